// @nanobill/money: exact nano-USD arithmetic (docs/contract.md §1). Pure functions, bigint only.
export {
  NANO_PER_USD,
  INT64_MAX,
  INT64_MIN,
  fitsInt64,
  sumNano,
  nanoToJson,
  type NanoUsd,
} from './nano.js';
export { parseDecimal, type Decimal } from './decimal.js';
export { roundHalfUp } from './rounding.js';
export { usdToNano } from './convert.js';
export { hfInferenceCostNano, tokenCostNano, type TokenPricing } from './pricing.js';
export { formatUsd, type FormatUsdOptions } from './format.js';
export { parseNanoUsd, type ParseNanoUsdOptions, type ParseNanoUsdResult } from './validate.js';
