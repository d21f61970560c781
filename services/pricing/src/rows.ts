import type { Billed } from '@nanobill/attribution';
import { pricingKey, type RoutedRequestEvent } from '@nanobill/contract';
import { nanoToJson, type NanoUsd } from '@nanobill/money';

/** A request waiting for its cost: a `billing.pricing_pending` row. */
export interface PendingRow {
  provider: string;
  provider_request_id: string;
  request_id: string;
  event_time: string;
  user_id: string;
  bill_to: string | null;
  model: string;
  task: string;
  first_seen_at: string;
  source_partition: number;
  /** hf-inference only: priced from these in the round. */
  compute_time_ms: number | null;
  hardware: string | null;
  /** The event's `usage`, carried to the ledger for the usage graphs; null without one. */
  input_tokens: number | null;
  output_tokens: number | null;
}

/** The request's own facts, shared by the pending, ledger and unpriced tables. */
const REQUEST_COLUMNS = [
  'provider',
  'provider_request_id',
  'request_id',
  'event_time',
  'user_id',
  'bill_to',
  'model',
  'task',
] as const;

export const PENDING_COLUMNS = [
  ...REQUEST_COLUMNS,
  'first_seen_at',
  'source_partition',
  'compute_time_ms',
  'hardware',
  'input_tokens',
  'output_tokens',
] as const satisfies ReadonlyArray<keyof PendingRow>;

type RequestFacts = Omit<
  PendingRow,
  | 'first_seen_at'
  | 'source_partition'
  | 'compute_time_ms'
  | 'hardware'
  | 'input_tokens'
  | 'output_tokens'
>;

export interface LedgerRow extends RequestFacts {
  priced_at: string;
  billed_account: string;
  attribution: string;
  attribution_reason: string;
  /** Decimal string: Int64 travels as a string, never as a lossy JSON number. */
  cost_nano_usd: string;
  cost_source: 'provider_api' | 'hf_compute_time';
  input_tokens: number | null;
  output_tokens: number | null;
}

export const LEDGER_COLUMNS = [
  ...REQUEST_COLUMNS,
  'priced_at',
  'billed_account',
  'attribution',
  'attribution_reason',
  'cost_nano_usd',
  'cost_source',
  'input_tokens',
  'output_tokens',
] as const satisfies ReadonlyArray<keyof LedgerRow>;

export interface UnpricedRow extends RequestFacts {
  first_seen_at: string;
  unpriced_at: string;
  reason: string;
  /** The unpriced_requests alert that announces it ('' when none does). */
  alert_id: string;
}

export const UNPRICED_COLUMNS = [
  ...REQUEST_COLUMNS,
  'first_seen_at',
  'unpriced_at',
  'reason',
  'alert_id',
] as const satisfies ReadonlyArray<keyof UnpricedRow>;

/** The reason of every `billing.pricing_duplicates` row. */
export const DUPLICATE_REASON = 'duplicate_provider_request_id';

/**
 * A request that reused another request's provider request id: quarantined in
 * `billing.pricing_duplicates`, never in the ledger (docs/architecture.md "How pricing stays
 * exact").
 */
export interface DuplicateRow extends RequestFacts {
  first_seen_at: string;
  quarantined_at: string;
  reason: typeof DUPLICATE_REASON;
  /** The request that keeps the provider request id. */
  kept_request_id: string;
  alert_id: string;
}

export const DUPLICATE_COLUMNS = [
  ...REQUEST_COLUMNS,
  'first_seen_at',
  'quarantined_at',
  'reason',
  'kept_request_id',
  'alert_id',
] as const satisfies ReadonlyArray<keyof DuplicateRow>;

export function pendingRow(
  event: RoutedRequestEvent,
  firstSeenAt: Date,
  partition: number,
): PendingRow {
  return {
    provider: event.provider,
    provider_request_id: event.providerRequestId!,
    request_id: event.requestId,
    event_time: event.timestamp,
    user_id: event.userId,
    bill_to: event.billTo ?? null,
    model: event.model,
    task: event.task,
    first_seen_at: firstSeenAt.toISOString(),
    source_partition: partition,
    compute_time_ms: event.computeTimeMs ?? null,
    hardware: event.hardware ?? null,
    input_tokens: event.usage?.inputTokens ?? null,
    output_tokens: event.usage?.outputTokens ?? null,
  };
}

export function ledgerRow(
  request: PendingRow,
  cost: NanoUsd,
  source: LedgerRow['cost_source'],
  pricedAt: Date,
  billed: Billed,
): LedgerRow {
  // Spelled out rather than spread: this runs once per priced request (a million per round).
  return {
    provider: request.provider,
    provider_request_id: request.provider_request_id,
    request_id: request.request_id,
    event_time: request.event_time,
    user_id: request.user_id,
    bill_to: request.bill_to,
    model: request.model,
    task: request.task,
    priced_at: pricedAt.toISOString(),
    billed_account: billed.accountId,
    attribution: billed.decision,
    attribution_reason: billed.reason,
    cost_nano_usd: nanoToJson(cost),
    cost_source: source,
    input_tokens: request.input_tokens,
    output_tokens: request.output_tokens,
  };
}

export function unpricedRow(
  request: PendingRow,
  reason: string,
  at: Date,
  alertId = '',
): UnpricedRow {
  return {
    ...requestFacts(request),
    first_seen_at: request.first_seen_at,
    unpriced_at: at.toISOString(),
    reason,
    alert_id: alertId,
  };
}

export function duplicateRow(
  request: PendingRow,
  keptRequestId: string,
  at: Date,
  alertId: string,
): DuplicateRow {
  return {
    ...requestFacts(request),
    first_seen_at: request.first_seen_at,
    quarantined_at: at.toISOString(),
    reason: DUPLICATE_REASON,
    kept_request_id: keptRequestId,
    alert_id: alertId,
  };
}

function requestFacts(request: PendingRow): RequestFacts {
  return {
    provider: request.provider,
    provider_request_id: request.provider_request_id,
    request_id: request.request_id,
    event_time: request.event_time,
    user_id: request.user_id,
    bill_to: request.bill_to,
    model: request.model,
    task: request.task,
  };
}

/** The ledger's uniqueness rule: one row per (provider, provider request id). */
export function rowKey(row: { provider: string; provider_request_id: string }): string {
  return pricingKey(row.provider, row.provider_request_id);
}
