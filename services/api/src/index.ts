export { apiRoutes, type ApiOptions } from './api.js';
export { startStatusView, type StatusView } from './status-view.js';
export {
  createToken,
  TokenStore,
  TOKEN_KINDS,
  type CreatedToken,
  type Principal,
  type TokenKind,
} from './tokens.js';
export { checkWebhookUrl } from './webhook-url.js';
export { forecast } from './routes/orgs.js';
