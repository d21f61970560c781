export * from './pricing.js';
export * from './alert-log.js';
export * from './pricing-follow.js';
export * from './usage.js';
