export { backoffDelayMs, type BackoffPolicy, type Jitter, type RetryPolicy } from './backoff.js';
