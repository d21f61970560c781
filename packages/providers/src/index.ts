export {
  loadProviders,
  parseProviders,
  DEFAULT_PROVIDERS_FILE,
  type ProviderRegistry,
  type RemoteProvider,
  type UsdAmount,
} from './registry.js';
export { providerToken } from './token.js';
