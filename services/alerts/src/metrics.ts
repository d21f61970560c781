import { Counter, Gauge, type Registry } from '@nanobill/observability';

export type AlertsMetrics = ReturnType<typeof createAlertsMetrics>;

export function createAlertsMetrics(registry: Registry) {
  const registers = [registry];
  return {
    alerts: new Counter({
      name: 'nanobill_alerts_total',
      help: 'Alerts consumed from billing.alerts.v1, by type (the alert type; unknown for a message that is not an alert) and result (logged, duplicate, invalid)',
      labelNames: ['type', 'result'] as const,
      registers,
    }),
    attempts: new Counter({
      name: 'nanobill_alert_delivery_attempts_total',
      help: 'Webhook delivery attempts, by outcome (delivered, retrying, abandoned)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    failures: new Counter({
      name: 'nanobill_alert_delivery_failures_total',
      help: 'Failed webhook delivery attempts, by failure class (address not public, timeout, HTTP 503, invalid alert id, signing secret unavailable…)',
      labelNames: ['error'] as const,
      registers,
    }),
    queued: new Gauge({
      name: 'nanobill_alert_deliveries_queued',
      help: 'Webhook deliveries waiting or in flight',
      registers,
    }),
    dlqMessages: new Gauge({
      name: 'nanobill_dlq_end_offset',
      help: 'Messages ever written to each dead-letter topic (sum of partition end offsets)',
      labelNames: ['topic'] as const,
      registers,
    }),
  };
}
