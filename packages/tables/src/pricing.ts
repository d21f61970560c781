/**
 * The pricing tables: billing.pricing_pending, billing.ledger_entries (read through the
 * billing.ledger view), billing.unpriced_entries (billing.unpriced) and billing.pricing_duplicates.
 * Owner: the pricing service, their only writer (services/pricing/src/writers.ts). Readers
 * (enforcement, statements) use the row types and named reads exported here, never SQL of their
 * own over these tables.
 */
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { readRows } from './read.js';

export const PENDING_TABLE = 'billing.pricing_pending';
export const LEDGER_TABLE = 'billing.ledger_entries';
export const UNPRICED_TABLE = 'billing.unpriced_entries';
export const DUPLICATES_TABLE = 'billing.pricing_duplicates';
/** Pending requests whose (provider, provider request id) has neither a ledger nor an unpriced row (migration 0018). */
export const OPEN_PENDING_VIEW = 'billing.open_pending';

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
export const REQUEST_COLUMNS = [
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

export type RequestFacts = Omit<
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

/** The request's own facts of a row of any of the pricing tables. */
export function requestFacts(request: RequestFacts): RequestFacts {
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

/**
 * How many requests of `month` (by event time) are still waiting for their cost: distinct
 * (provider, provider request id) of billing.open_pending.
 */
export async function openPendingCount(
  clickhouse: ClickHouseClient,
  month: string,
): Promise<number> {
  const rows = await readRows<[string]>(
    clickhouse,
    `SELECT count() FROM (
              SELECT provider, provider_request_id FROM ${OPEN_PENDING_VIEW}
              WHERE toYYYYMM(event_time) = {m:UInt32}
              GROUP BY provider, provider_request_id)`,
    { m: Number(month.replace('-', '')) },
  );
  return Number(rows[0]?.[0] ?? 0);
}

/**
 * The months (YYYYMM, by event time) with a ledger row or a pending request. From the tables
 * themselves, not system.parts: on a cluster these names are Distributed tables without parts of
 * their own, and system.parts shows one node only.
 */
export async function monthsWithPricingRows(clickhouse: ClickHouseClient): Promise<string[]> {
  const rows = await readRows<[string]>(
    clickhouse,
    `SELECT toString(toYYYYMM(event_time)) AS m FROM ${LEDGER_TABLE} GROUP BY m
            UNION DISTINCT
            SELECT toString(toYYYYMM(event_time)) AS m FROM ${PENDING_TABLE} GROUP BY m`,
  );
  return rows.map(([m]) => m);
}
