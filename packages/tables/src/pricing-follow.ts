/**
 * Reads of the pricing tables (owner: the pricing service, see ./pricing.ts) for the enforcement
 * service: the rows stored since a time, which replace or retire its estimates, and the sums it
 * starts from. Every table here has `inserted_at`, set by ClickHouse at insert.
 */
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { readRows } from './read.js';
import { pricingKey } from '@nanobill/contract';
import { monthBounds } from '@nanobill/calendar';
import { DUPLICATES_TABLE, LEDGER_TABLE, UNPRICED_TABLE } from './pricing.js';

/** A ledger row's cost as the enforcement service follows it (by `inserted_at`). */
export interface LedgerCost {
  /** `pricingKey(provider, provider request id)`. */
  key: string;
  provider: string;
  model: string;
  billedAccount: string;
  /** The request's month (UTC). */
  month: string;
  cost: bigint;
  pricedAtMs: number;
  insertedAtMs: number;
}

/** A billing.unpriced_entries row as enforcement reads it: its estimate leaves the spend. */
export interface UnpricedMark {
  key: string;
  month: string;
  unpricedAtMs: number;
  insertedAtMs: number;
}

/**
 * A billing.pricing_duplicates row as enforcement reads it. Its `key` is the request's (several
 * requests can reuse one provider request id), for the follower; `pricingKey` is the key it
 * shares with the request that keeps the id.
 */
export interface QuarantineMark {
  key: string;
  pricingKey: string;
  month: string;
  /** The keeper has its ledger or unpriced row. */
  keeperSettled: boolean;
  insertedAtMs: number;
}

/** Ledger rows stored in `range` (real costs replacing estimates). */
export async function ledgerRows(
  clickhouse: ClickHouseClient,
  range: StoredRange,
): Promise<LedgerCost[]> {
  type Raw = [string, string, string, string, string, string, string, string];
  const rows = await stored<Raw>(clickhouse, LEDGER_TABLE, range, [
    'billed_account',
    'model',
    'toString(cost_nano_usd)',
    'toUnixTimestamp64Milli(priced_at)',
  ]);
  return rows.map(([provider, id, yyyymm, insertedMs, account, model, cost, pricedMs]) => ({
    key: pricingKey(provider, id),
    provider,
    model,
    billedAccount: account,
    month: monthOfYyyymm(yyyymm),
    cost: BigInt(cost),
    pricedAtMs: Number(pricedMs),
    insertedAtMs: Number(insertedMs),
  }));
}

/** Unpriced rows stored in `range` (estimates that leave). */
export async function unpricedRows(
  clickhouse: ClickHouseClient,
  range: StoredRange,
): Promise<UnpricedMark[]> {
  type Raw = [string, string, string, string, string];
  const rows = await stored<Raw>(clickhouse, UNPRICED_TABLE, range, [
    'toUnixTimestamp64Milli(unpriced_at)',
  ]);
  return rows.map(([provider, id, yyyymm, insertedMs, unpricedMs]) => ({
    key: pricingKey(provider, id),
    month: monthOfYyyymm(yyyymm),
    unpricedAtMs: Number(unpricedMs),
    insertedAtMs: Number(insertedMs),
  }));
}

/**
 * Quarantined requests stored since `since` (estimates that leave once their keeper is settled):
 * for an InsertionFollower. `keeperSettled`: the key has a ledger or unpriced row (the keeper's:
 * one per key), looked up by the tables' primary key for the few keys read.
 */
export async function quarantinedRows(
  clickhouse: ClickHouseClient,
  since: number,
  month: string,
): Promise<QuarantineMark[]> {
  const settledIn = (table: string) =>
    `(provider, provider_request_id) IN (
       SELECT provider, provider_request_id FROM ${table}
       WHERE (provider, provider_request_id) IN (
         SELECT provider, provider_request_id FROM ${DUPLICATES_TABLE}
         WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})))`;
  type Raw = [string, string, string, string, string, number];
  const rows = await stored<Raw>(clickhouse, DUPLICATES_TABLE, followed(since, month), [
    'request_id',
    `toUInt8(${settledIn(LEDGER_TABLE)} OR ${settledIn(UNPRICED_TABLE)})`,
  ]);
  return rows.map(([provider, id, yyyymm, insertedMs, requestId, settled]) => ({
    key: `${pricingKey(provider, id)}\u0000${requestId}`,
    pricingKey: pricingKey(provider, id),
    month: monthOfYyyymm(yyyymm),
    keeperSettled: Number(settled) === 1,
    insertedAtMs: Number(insertedMs),
  }));
}

/**
 * Which stored rows to read: stored (`inserted_at`) since `sinceMs` and/or before `beforeMs`,
 * of requests made (`event_time`) from `eventFromMs` on.
 */
export interface StoredRange {
  sinceMs?: number;
  beforeMs?: number;
  eventFromMs: number;
}

/** A follower's read: stored since `since`, of `month` or later. */
export function followed(since: number, month: string): StoredRange {
  return { sinceMs: since, eventFromMs: monthBounds(month).start.getTime() };
}

/**
 * Rows of `table` (keyed by provider and provider request id, with `inserted_at`) in `range`:
 * provider, id, YYYYMM, inserted_at (ms), then `columns`.
 */
async function stored<Raw>(
  clickhouse: ClickHouseClient,
  table: typeof LEDGER_TABLE | typeof UNPRICED_TABLE | typeof DUPLICATES_TABLE,
  range: StoredRange,
  columns: string[],
): Promise<Raw[]> {
  return readRows<Raw>(
    clickhouse,
    `SELECT provider, provider_request_id, toString(toYYYYMM(event_time)),
                   toUnixTimestamp64Milli(inserted_at), ${columns.join(', ')}
            FROM ${table}
            WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})
              AND inserted_at < fromUnixTimestamp64Milli({before:Int64})
              AND event_time >= fromUnixTimestamp64Milli({eventFrom:Int64})`,
    {
      since: range.sinceMs ?? 0,
      before: range.beforeMs ?? Number.MAX_SAFE_INTEGER,
      eventFrom: range.eventFromMs,
    },
  );
}

/** '202603' → '2026-03'. */
function monthOfYyyymm(yyyymm: string): string {
  return `${yyyymm.slice(0, 4)}-${yyyymm.slice(4)}`;
}

/**
 * The month's priced cost per billed account stored before `beforeMs`, of requests made before
 * `eventBeforeMs`, read once at start-up (with FINAL: a row written twice by racing instances
 * counts once). The ledger follower takes over from `beforeMs` exactly (its first read starts
 * there, not an overlap earlier), so no row counts twice (issue 13: rows stored in the minute
 * before the cut used to) and none is left out. FINAL collapses duplicates before the
 * `inserted_at` filter: a key written on both sides of the cut counts once, on the side of its
 * last copy. Requests made since `eventBeforeMs` are the ones enforcement may still estimate (a
 * redelivered event): their rows are read one by one instead (`ledgerRows`), so that their keys
 * are known as priced.
 */
export async function pricedSums(
  clickhouse: ClickHouseClient,
  month: string,
  beforeMs: number,
  eventBeforeMs: number,
): Promise<Map<string, bigint>> {
  const { start } = monthBounds(month);
  const end = Math.min(monthBounds(month).end.getTime(), eventBeforeMs);
  const rows = await readRows<[string, string]>(
    clickhouse,
    `SELECT billed_account, toString(sum(toInt128(cost_nano_usd)))
            FROM ${LEDGER_TABLE} FINAL
            WHERE event_time >= fromUnixTimestamp64Milli({start:Int64})
              AND event_time < fromUnixTimestamp64Milli({end:Int64})
              AND inserted_at < fromUnixTimestamp64Milli({before:Int64})
            GROUP BY billed_account`,
    { start: start.getTime(), end, before: beforeMs },
  );
  return new Map(rows.map(([account, sum]) => [account, BigInt(sum)]));
}

/** Recent real costs per provider and model (at most `perModel` each), to seed the averages. */
export async function recentCosts(
  clickhouse: ClickHouseClient,
  sinceMs: number,
  perModel: number,
): Promise<Array<{ provider: string; model: string; cost: bigint }>> {
  const newestFirst = await readRows<[string, string, string]>(
    clickhouse,
    `SELECT provider, model, toString(cost_nano_usd)
            FROM ${LEDGER_TABLE}
            WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})
            ORDER BY inserted_at DESC
            LIMIT {perModel:UInt32} BY provider, model`,
    { since: sinceMs, perModel },
  );
  return newestFirst.reverse().map(([provider, model, cost]) => ({
    provider,
    model,
    cost: BigInt(cost),
  }));
}
