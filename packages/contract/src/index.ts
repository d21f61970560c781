export { TOPICS, type TopicKey } from './topics.js';
export { DEFAULT_PROVIDERS, HF_INFERENCE } from './providers.js';
export {
  MAX_EVENT_BYTES,
  REQUEST_EVENT_FIELDS,
  RoutedRequestEvent,
  requestEventSchema,
} from './request-event.js';
export { decodeRequestEvent, REJECTION_CODES, type Decoded, type RejectionCode } from './decode.js';
export { JSON_SCHEMAS } from './json-schemas.js';
export { Alert, ALERT_TYPES } from './alert.js';
