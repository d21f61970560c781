export {
  startPipeline,
  SERVICES,
  type ConsumingService,
  type SingletonService,
  type Pipeline,
  type PipelineOverrides,
  type ServiceOverrides,
  type ServiceName,
} from './pipeline.js';
export {
  startSingleton,
  MAX_FAILED_STARTS,
  REJOIN_FIRST_DELAY_MS,
  REJOIN_MAX_DELAY_MS,
  RETRY_START_MS,
  type SingletonOptions,
} from './singleton.js';
export {
  exitAfterOutput,
  serveUntilStopped,
  untilSignal,
  watchFatalErrors,
  FATAL_DRAIN_TIMEOUT_MS,
} from './lifecycle.js';
export { askRunningProcess, operationResult, querySocketPath, startQueryServer } from './socket.js';
export { AuditRequest, auditBooks } from './audit.js';
export { QueryRequest, runFinanceQuery } from './query.js';
export { StatementsRequest, linesToJson, loadStatements } from './statements.js';
export { TokensRequest, runTokens } from './tokens.js';
export { WebhooksRequest, runWebhooks, type RotatedSecret } from './webhooks.js';
export { opsWebhookSecret, secretsCipher } from './webhook-secret.js';
