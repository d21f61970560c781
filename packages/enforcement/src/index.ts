// @nanobill/enforcement: spending limits, account status and threshold alerts (docs/contract.md §6,
// §7). Pure functions, bigint nano-USD only, no I/O, no clock: time comes in as a month.
export {
  STATUSES,
  WARNING_PERCENT,
  accountStatus,
  statusChanged,
  statusRank,
  type AccountKind,
  type DecidedStatus,
  type AccountStatusInput,
  type Status,
  type StatusBasis,
} from './status.js';
export {
  CROSSING_KINDS,
  LIMIT_PERCENTS,
  SPEND_THRESHOLDS,
  describeCrossing,
  thresholdCrossings,
  thresholdsFor,
  type Crossing,
  type CrossingContext,
  type CrossingDescription,
  type CrossingKind,
} from './thresholds.js';
export { alertKey } from './alert-key.js';
export {
  SpendTracker,
  type AccountBooks,
  type SpendBreakdown,
  type SpendChange,
} from './tracker.js';
export { RecentCosts } from './recent-costs.js';
export {
  ESTIMATE_SOURCES,
  estimateCost,
  type Estimate,
  type EstimateRequest,
  type EstimateSource,
  type PriceSources,
} from './estimate.js';
