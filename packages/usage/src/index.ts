// @nanobill/usage: usage over time for org admins (docs/contract.md §8), read from
// billing.usage_hourly, the hourly rollup of the ledger. Queries and readers only, no HTTP.
export {
  GRANULARITIES,
  GROUP_BYS,
  usageSeries,
  usageSeriesQuery,
  type Granularity,
  type GroupBy,
  type UsagePoint,
  type UsageQuery,
  type UsageSeries,
  type UsageSeriesOptions,
  type UsageSeriesResult,
  type UsageTotals,
} from './series.js';
export { monthToDateCost } from './month.js';
export { usageVersions } from './version.js';
export { correctRollups, CORRECTION_OVERLAP_MS } from './corrections.js';
