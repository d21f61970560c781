import { Counter, Gauge, Histogram, type Registry } from '@nanobill/observability';

export type PricingMetrics = ReturnType<typeof createPricingMetrics>;

export function createPricingMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: 'nanobill_pricing_events_total',
      help: 'Request events seen by pricing, by route (cost_endpoint, compute_time, skip_custom_key, skip_not_reached, invalid)',
      labelNames: ['route'] as const,
      registers,
    }),
    calls: new Counter({
      name: 'nanobill_pricing_calls_total',
      help: 'Cost endpoint calls (every attempt), by provider and outcome (ok, rate_limited, server_error, timeout, network_error, unauthorized, client_error, wrong_content_type, oversized_body, malformed_json, no_token)',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    }),
    idsPerCall: new Histogram({
      name: 'nanobill_pricing_ids_per_call',
      help: 'Request ids sent in one cost endpoint call',
      buckets: [1, 10, 100, 1_000, 5_000, 9_999, 10_000],
      registers,
    }),
    callSeconds: new Histogram({
      name: 'nanobill_pricing_call_seconds',
      help: 'Cost endpoint call latency, by provider',
      labelNames: ['provider'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
    answers: new Counter({
      name: 'nanobill_pricing_answers_total',
      help: 'Per-id results of cost answers, by provider and result (priced, left_out, rejected_cost: an invalid cost or two different costs, above_ceiling, unknown_id: an id not asked for, duplicate: an id answered twice with one cost, invalid_answer: every id of an answer that could not be read)',
      labelNames: ['provider', 'result'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'nanobill_pricing_pending_requests',
      help: 'Requests waiting for their cost, by provider',
      labelNames: ['provider'] as const,
      registers,
    }),
    oldestPending: new Gauge({
      name: 'nanobill_pricing_oldest_pending_seconds',
      help: 'Age of the oldest request waiting for its cost, by provider',
      labelNames: ['provider'] as const,
      registers,
    }),
    unpriced: new Counter({
      name: 'nanobill_pricing_unpriced_total',
      help: 'Requests written to billing.unpriced, by provider',
      labelNames: ['provider'] as const,
      registers,
    }),
    aboveCeiling: new Counter({
      name: 'nanobill_pricing_above_ceiling_total',
      help: 'Costs above the ceiling (a provider answer, or hf-inference compute): not booked, unpriced at once, by provider',
      labelNames: ['provider'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'nanobill_pricing_duplicate_requests_total',
      help: "Requests that reused another request's provider request id (same provider): quarantined in billing.pricing_duplicates, never booked, by provider",
      labelNames: ['provider'] as const,
      registers,
    }),
    endpointFailing: new Gauge({
      name: 'nanobill_pricing_endpoint_failing',
      help: "1 while a provider's cost endpoint is failing (from the first round in which no call got a usable answer until one does), else 0",
      labelNames: ['provider'] as const,
      registers,
    }),
    endpointAlerts: new Counter({
      name: 'nanobill_pricing_endpoint_failing_alerts_total',
      help: 'cost_endpoint_failing alerts sent (one per outage past the threshold), by provider',
      labelNames: ['provider'] as const,
      registers,
    }),
    refusedRows: new Counter({
      name: 'nanobill_pricing_refused_rows_total',
      help: 'Rows ClickHouse refused for their values, by table (billing.pricing_pending: the events go to inference.requests.dlq.v1; billing.ledger_entries, billing.unpriced_entries, billing.pricing_duplicates: the requests stay pending with the reason, and a storage_refused alert)',
      labelNames: ['table'] as const,
      registers,
    }),
    ledgerRows: new Counter({
      name: 'nanobill_pricing_ledger_rows_total',
      help: 'Rows written to billing.ledger, by cost source (provider_api, hf_compute_time)',
      labelNames: ['source'] as const,
      registers,
    }),
    roundSeconds: new Histogram({
      name: 'nanobill_pricing_round_seconds',
      help: 'Duration of one pricing round (all providers)',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    attribution: new Counter({
      name: 'nanobill_pricing_attribution_total',
      help: 'Attribution decisions for priced requests: org, user, user_fallback, wait (facts not known yet)',
      labelNames: ['decision'] as const,
      registers,
    }),
    skippedRounds: new Counter({
      name: 'nanobill_pricing_skipped_rounds_total',
      help: 'Scheduled rounds skipped because the previous one was still running',
      registers,
    }),
    heldRequests: new Gauge({
      name: 'nanobill_pricing_held_requests',
      help: "Requests consumed and stored while their partition's pending requests were being loaded from ClickHouse (merged into the pending set with that load)",
      registers,
    }),
    inMemory: new Gauge({
      name: 'nanobill_pricing_pending_in_memory',
      help: 'Pending requests held in memory (ids only; reuses of a provider request id included), at most nanobill_pricing_pending_cap',
      registers,
    }),
    cap: new Gauge({
      name: 'nanobill_pricing_pending_cap',
      help: 'How many pending requests pricing keeps in memory (MAX_PENDING_IN_MEMORY); past it requests are only stored in billing.pricing_pending and loaded as rounds make room',
      registers,
    }),
    unloadedPartitions: new Gauge({
      name: 'nanobill_pricing_unloaded_partitions',
      help: 'Owned partitions with stored pending requests not in memory yet: being loaded, their load failing, or waiting for room under nanobill_pricing_pending_cap',
      registers,
    }),
    refusedAlerts: new Counter({
      name: 'nanobill_pricing_refused_alerts_total',
      help: 'Alerts the alert schema refused (left out and logged; the other alerts of the same send are published)',
      registers,
    }),
    reloadFailures: new Counter({
      name: 'nanobill_pricing_pending_reload_failures_total',
      help: 'Failed loads of the pending requests of assigned partitions (each retried; the partitions are held back until loaded)',
      registers,
    }),
  };
}
