import { Counter, Gauge, Histogram, type Registry } from '@nanobill/observability';

export type EnforcementMetrics = ReturnType<typeof createEnforcementMetrics>;

export function createEnforcementMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: 'nanobill_enforcement_events_total',
      help: 'Request events seen by enforcement, by outcome (estimated, skip_custom_key, skip_not_reached, too_old, invalid)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    estimates: new Counter({
      name: 'nanobill_enforcement_estimates_total',
      help: 'Spend estimates of requests not priced yet, by source (hf_compute_time, models_api, providers_file, recent_average, provider_average, none)',
      labelNames: ['source'] as const,
      registers,
    }),
    ledgerRows: new Counter({
      name: 'nanobill_enforcement_ledger_rows_total',
      help: 'Ledger rows followed (real costs replacing estimates)',
      registers,
    }),
    statusChanges: new Counter({
      name: 'nanobill_enforcement_status_changes_total',
      help: 'Account statuses published on billing.account-status.v1, by status (ok, warning, blocked; retired: a tombstone for an idle account at a month turn)',
      labelNames: ['status'] as const,
      registers,
    }),
    alerts: new Counter({
      name: 'nanobill_enforcement_threshold_alerts_total',
      help: 'Threshold alerts raised, by threshold (limit_50, limit_80, limit_100, credits_exhausted, pay_as_you_go_started, spend_10_usd, spend_100_usd, spend_1000_usd)',
      labelNames: ['threshold'] as const,
      registers,
    }),
    unpricedRows: new Counter({
      name: 'nanobill_enforcement_unpriced_rows_total',
      help: 'Unpriced requests followed (their estimates leave the spend)',
      registers,
    }),
    quarantinedRows: new Counter({
      name: 'nanobill_enforcement_quarantined_rows_total',
      help: 'Quarantined requests followed (billing.pricing_duplicates: their estimates leave the spend once the request keeping their provider request id is settled)',
      registers,
    }),
    failures: new Counter({
      name: 'nanobill_enforcement_account_failures_total',
      help: 'Accounts, ledger or unpriced rows and events enforcement skipped because processing them threw, by stage (decide, event, ledger_row, unpriced_row, quarantined_row, status_record, startup_sum, startup_row, startup_estimate, publish: a status or alert its schema refuses); the others go on',
      labelNames: ['stage'] as const,
      registers,
    }),
    waiting: new Gauge({
      name: 'nanobill_enforcement_estimates_waiting_for_facts',
      help: 'Estimates whose payer is not known yet (account facts within the attribution grace): counted against nobody until they are',
      registers,
    }),
    publishFailures: new Counter({
      name: 'nanobill_enforcement_publish_failures_total',
      help: 'Failed sends of statuses and alerts (decided again and re-sent)',
      registers,
    }),
    outstanding: new Gauge({
      name: 'nanobill_enforcement_requests_remembered',
      help: 'Requests held in memory: outstanding estimates and recently priced',
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'nanobill_enforcement_event_to_status_seconds',
      help: 'From an event being appended to Kafka to the status change it caused being published',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
  };
}
