export {
  ALERTS_GROUP_ID,
  DEFAULT_RETRY,
  startAlerts,
  type AlertsOptions,
  type OpsWebhook,
  type WebhookSettings,
} from './service.js';
export { afterAttempt, DeliveryQueue, type DeliveryJob } from './deliveries.js';
export { ACCOUNT_ALERT_TYPES, destinationOf } from './destination.js';
export { DlqWatch } from './dlq-watch.js';
export { deliveryFailing, dlqGrowth } from './ops-alerts.js';
