export {
  ALERT_ID_HEADER,
  ATTEMPT_HEADER,
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  signatureHeader,
  verifyWebhook,
  type SigningSecrets,
  type VerifyOptions,
} from './sign.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  WebhookSender,
  type Delivery,
  type DeliveryOutcome,
  type WebhookSenderOptions,
} from './sender.js';
export {
  ADDRESS_NOT_PUBLIC,
  AddressPolicy,
  isPublicUnicast,
  parseAddress,
} from './address-policy.js';
export {
  AddressNotPublicError,
  guardedConnector,
  guardedLookup,
  type Resolve,
  type ResolvedAddress,
} from './connector.js';
export {
  generateSecretsKey,
  parseSecretsKey,
  SecretsCipher,
  SecretUnreadableError,
} from './secrets-cipher.js';
export {
  DEFAULT_OVERLAP_MS,
  DEFAULT_SECRET_CACHE_MS,
  generateSigningSecret,
  MAX_OVERLAP_MS,
  MAX_ROTATIONS_PER_HOUR,
  RotationLimitError,
  WebhookSecretStore,
  type AccountSecrets,
} from './secret-store.js';
export { webhookOrigin } from './origin.js';
