export {
  loadProviders,
  parseProviders,
  DEFAULT_PROVIDERS_FILE,
  DEFAULT_MAX_COST_USD,
  DEFAULT_MAX_COMPUTE_SECONDS,
  isLoopbackHost,
  type LoadProvidersOptions,
  type ProviderRegistry,
  type RemoteProvider,
  type UsdAmount,
} from './registry.js';
export { providerToken } from './token.js';
export { providerConnectOptions } from './connect.js';
export {
  fetchModelPrices,
  parseModelPrices,
  ModelPriceBook,
  ModelPricesError,
  MAX_MODELS_BODY_BYTES,
  type FetchModelPricesOptions,
  type ModelPriceBookOptions,
  type ModelPrices,
  type PriceQuote,
  type PriceSource,
  type ProviderPricesReport,
  type RefreshReport,
} from './model-prices.js';
export { readCapped } from './read-capped.js';
