import { pricingKey } from '@nanobill/contract';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthBounds } from '@nanobill/credits';
import type { PricedRequest } from './enforcer.js';

export interface LedgerRow extends PricedRequest {
  provider: string;
  model: string;
  insertedAtMs: number;
}

/**
 * Follows billing.ledger_entries by insertion time (`inserted_at`, set by ClickHouse), so that
 * each call reads only what was stored since the last one rather than the month. Rows of one
 * insert become visible together but an insert may take a while, so each read goes back
 * `overlapMs` and drops the rows it has already returned.
 */
export class LedgerFollower {
  #watermark: number;
  readonly #returned = new Map<string, number>(); // key → inserted_at, within the overlap

  constructor(
    private readonly clickhouse: ClickHouseClient,
    fromMs: number,
    private readonly overlapMs = 60_000,
  ) {
    this.#watermark = fromMs;
  }

  /** Ledger rows of `month` or later stored since the last call, each returned once. */
  async next(month: string): Promise<LedgerRow[]> {
    const since = this.#watermark - this.overlapMs;
    const result = await this.clickhouse.query({
      query: `SELECT provider, provider_request_id, billed_account, model,
                     toString(toYYYYMM(event_time)) AS yyyymm, toString(cost_nano_usd),
                     toUnixTimestamp64Milli(priced_at), toUnixTimestamp64Milli(inserted_at)
              FROM billing.ledger_entries
              WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})
                AND event_time >= fromUnixTimestamp64Milli({monthStart:Int64})`,
      query_params: { since, monthStart: monthBounds(month).start.getTime() },
      format: 'JSONCompactEachRow',
    });
    const rows: LedgerRow[] = [];
    type Raw = [string, string, string, string, string, string, string, string];
    for (const [
      provider,
      id,
      account,
      model,
      yyyymm,
      cost,
      pricedMs,
      insertedMs,
    ] of await result.json<Raw>()) {
      const key = pricingKey(provider, id);
      const insertedAtMs = Number(insertedMs);
      if (this.#returned.has(key)) continue;
      this.#returned.set(key, insertedAtMs);
      this.#watermark = Math.max(this.#watermark, insertedAtMs);
      rows.push({
        key,
        provider,
        model,
        billedAccount: account,
        month: `${yyyymm.slice(0, 4)}-${yyyymm.slice(4)}`,
        cost: BigInt(cost),
        pricedAtMs: Number(pricedMs),
        insertedAtMs,
      });
    }
    const forgetBefore = this.#watermark - 2 * this.overlapMs;
    for (const [key, at] of this.#returned) if (at < forgetBefore) this.#returned.delete(key);
    return rows;
  }
}

/**
 * The month's priced cost per billed account stored before `beforeMs`, read once at start-up
 * (with FINAL: a row written twice by racing instances counts once); the follower takes over
 * from `beforeMs`.
 */
export async function pricedSums(
  clickhouse: ClickHouseClient,
  month: string,
  beforeMs: number,
): Promise<Map<string, bigint>> {
  const { start, end } = monthBounds(month);
  const result = await clickhouse.query({
    query: `SELECT billed_account, toString(sum(toInt128(cost_nano_usd)))
            FROM billing.ledger_entries FINAL
            WHERE event_time >= fromUnixTimestamp64Milli({start:Int64})
              AND event_time < fromUnixTimestamp64Milli({end:Int64})
              AND inserted_at < fromUnixTimestamp64Milli({before:Int64})
            GROUP BY billed_account`,
    query_params: { start: start.getTime(), end: end.getTime(), before: beforeMs },
    format: 'JSONCompactEachRow',
  });
  return new Map(
    (await result.json<[string, string]>()).map(([account, sum]) => [account, BigInt(sum)]),
  );
}

/** Recent real costs per provider and model (at most `perModel` each), to seed the averages. */
export async function recentCosts(
  clickhouse: ClickHouseClient,
  sinceMs: number,
  perModel: number,
): Promise<Array<{ provider: string; model: string; cost: bigint }>> {
  const result = await clickhouse.query({
    query: `SELECT provider, model, toString(cost_nano_usd)
            FROM billing.ledger_entries
            WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})
            ORDER BY inserted_at DESC
            LIMIT {perModel:UInt32} BY provider, model`,
    query_params: { since: sinceMs, perModel },
    format: 'JSONCompactEachRow',
  });
  const newestFirst = await result.json<[string, string, string]>();
  return newestFirst.reverse().map(([provider, model, cost]) => ({
    provider,
    model,
    cost: BigInt(cost),
  }));
}
