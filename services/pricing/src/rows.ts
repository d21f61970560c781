import type { Billed } from '@nanobill/attribution';
import { pricingKey, type ReachedEvent } from '@nanobill/contract';
import { nanoToJson, type NanoUsd } from '@nanobill/money';
import {
  DUPLICATE_REASON,
  requestFacts,
  type DuplicateRow,
  type LedgerRow,
  type PendingRow,
  type UnpricedRow,
} from '@nanobill/tables';

/** Builds the rows of the pricing tables (their types: @nanobill/tables, owned by pricing). */

export function pendingRow(event: ReachedEvent, firstSeenAt: Date, partition: number): PendingRow {
  return {
    provider: event.provider,
    provider_request_id: event.providerRequestId,
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

/** The ledger's uniqueness rule: one row per (provider, provider request id). */
export function rowKey(row: { provider: string; provider_request_id: string }): string {
  return pricingKey(row.provider, row.provider_request_id);
}
