export {
  startPricing,
  PRICING_GROUP_ID,
  DEFAULT_DEADLINE_MS,
  type PricingOptions,
  type PricingService,
} from './service.js';
export {
  EndpointHealth,
  DEFAULT_ENDPOINT_FAILING_AFTER_MS,
  endpointFailingAlertId,
  type EndpointFailing,
  type EndpointRecovered,
  type HealthChange,
} from './endpoint-health.js';
export { intoBatches, mapLimit, MAX_IDS_PER_CALL } from './batches.js';
export { readAnswer, type AnswerReport } from './answer.js';
export { CostClient, type CallOutcome } from './cost-client.js';
export { priceComputeTime } from './compute-time.js';
export { PendingRequests, MAX_PENDING_IN_MEMORY, type PendingRef, type Reuse } from './pending.js';
export {
  PendingLoads,
  PENDING_LOADS_COMPONENT,
  LOAD_PAGE_ROWS,
  type LoadPage,
  type LoadedPage,
  RELOAD_FIRST_DELAY_MS,
  RELOAD_MAX_DELAY_MS,
} from './pending-loads.js';
export type { RoundReport } from './round.js';
export { fallbackAlerts, type Fallback } from './fallback-alerts.js';
export { unpricedAlertId } from './round.js';
