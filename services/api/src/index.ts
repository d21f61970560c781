export { DEFAULT_RATE_LIMITS, type ApiOptions, type RateLimits } from './api.js';
export { usageAnswerJson } from './answers.js';
export { buildApiServer, startApiServer, type ApiServerOptions } from './server.js';
export { clickhouseQueries, type AlertEntry, type OrgQueries } from './queries/index.js';
export { startStatusView, type StatusView, NO_STATUSES } from './status-view.js';
export {
  createToken,
  DEFAULT_TOKEN_CACHE_TTL_MS,
  DEFAULT_TOKEN_TTL_MS,
  TokenStore,
  TOKEN_KINDS,
  UnknownTokenId,
  type CreatedToken,
  type Principal,
  type TokenKind,
  type TokenStoreOptions,
} from './tokens.js';
export {
  MAX_TOKEN_LOOKUPS_IN_FLIGHT,
  TOKEN_CACHE_MAX_IDS,
  UNKNOWN_ID_CACHE_MAX_IDS,
} from './token-cache.js';
export { checkWebhookUrl } from './webhook-url.js';
export {
  DEFAULT_USAGE_CACHE_LIMITS,
  USAGE_CACHE_MAX_BYTES,
  USAGE_CACHE_MAX_ENTRIES,
  USAGE_CACHE_MAX_ENTRY_BYTES,
  type UsageCacheLimits,
} from './usage-cache.js';
export { forecast } from './routes/orgs.js';
export { type SettingsMessage } from './routes/settings.js';
