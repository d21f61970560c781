export { createLogger, REDACTED_PATHS, type Logger } from './logger.js';
export { createMetricsRegistry, Counter, Gauge, Histogram, type Registry } from './metrics.js';
export { startOpsServer, type OpsServerOptions } from './ops-server.js';
export { ComponentHealth } from './health.js';
