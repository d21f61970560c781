export { TOPICS, type TopicKey } from './topics.js';
export { DEFAULT_PROVIDERS, HF_INFERENCE } from './providers.js';
export {
  MAX_EVENT_BYTES,
  MAX_ID_LENGTH,
  MAX_TAG_LENGTH,
  REQUEST_EVENT_FIELDS,
  RoutedRequestEvent,
  requestEventSchema,
} from './request-event.js';
export {
  decodeAccountMessage,
  decodeAccountSnapshot,
  decodeOrgSettings,
  decodeRequestEvent,
  requestEventDecoder,
  outsideWindow,
  DEFAULT_EVENT_WINDOW,
  MAX_EVENT_WINDOW_MS,
  MAX_JSON_DEPTH,
  REJECTION_CODES,
  type AccountMessage,
  type Decoded,
  type EventWindow,
  type RejectionCode,
  type RequestMessage,
} from './decode.js';
export {
  ACCOUNT_ID_PATTERN,
  DATETIME64_MAX,
  DATETIME64_MIN,
  MAX_ACCOUNT_ID_LENGTH,
  UINT16_MAX,
  UINT32_MAX,
  isAccountId,
  isWellFormed,
} from './bounds.js';
export { JSON_SCHEMAS } from './json-schemas.js';
export { Alert, ALERT_TYPES, type AlertType } from './alert.js';
export { ALERT_ID_PATTERN, MAX_ALERT_ID_LENGTH, alertIdPart, isValidAlertId } from './alert-id.js';
export { AccountStatus } from './account-status.js';
export {
  ADMIN_FIELDS,
  AccountSnapshot,
  MAX_ACCOUNT_SNAPSHOT_BYTES,
  OrgSettings,
  OrgSnapshot,
  settingValue,
  settingsKey,
  type AdminField,
  ORG_PLANS,
  USER_PLANS,
  spendingLimitOf,
  type OrgPlan,
  type UserPlan,
  type UserSnapshot,
} from './account-snapshot.js';
export {
  decideRequest,
  pricingKey,
  type PriceRoute,
  type ReachedEvent,
  type RequestDecision,
  type SkipReason,
} from './pricing-route.js';
export {
  requestClassifier,
  requestLabel,
  type ClassifiedRequest,
  type RequestLabel,
} from './classify.js';
export { INT64_MAX, nanoUsdDigits } from './nano-usd.js';
