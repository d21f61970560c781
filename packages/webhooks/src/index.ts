export {
  ALERT_ID_HEADER,
  ATTEMPT_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  signBody,
  verifySignature,
} from './sign.js';
export { backoffDelayMs, type BackoffPolicy } from './backoff.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  WebhookSender,
  type Delivery,
  type DeliveryOutcome,
  type WebhookSenderOptions,
} from './sender.js';
