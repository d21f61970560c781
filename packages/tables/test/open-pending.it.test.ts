import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { testClickHouse } from '@nanobill/testkit';
import {
  LEDGER_TABLE,
  PENDING_TABLE,
  UNPRICED_TABLE,
  monthsWithPricingRows,
  openPendingCount,
  requestFacts,
  type LedgerRow,
  type PendingRow,
  type UnpricedRow,
} from '../src/index.js';

// billing.open_pending (migration 0018) replaces the statements service's own query; this is
// that query as it was, kept here as the oracle the view must agree with.
const BEFORE_0018 = `SELECT count() FROM (
  SELECT provider, provider_request_id FROM billing.pricing_pending
  WHERE toYYYYMM(event_time) = {m:UInt32}
  GROUP BY provider, provider_request_id
  HAVING (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_entries)
     AND (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.unpriced_entries))`;

function pending(id: string, requestId: string, eventTime: string): PendingRow {
  return {
    provider: 'groq',
    provider_request_id: id,
    request_id: requestId,
    event_time: eventTime,
    user_id: 'u1',
    bill_to: null,
    model: 'm',
    task: 'conversational',
    first_seen_at: eventTime,
    source_partition: 0,
    compute_time_ms: null,
    hardware: null,
    input_tokens: null,
    output_tokens: null,
  };
}

function ledger(row: PendingRow): LedgerRow {
  return {
    ...requestFacts(row),
    priced_at: row.event_time,
    billed_account: row.user_id,
    attribution: 'user',
    attribution_reason: '',
    cost_nano_usd: '1000',
    cost_source: 'provider_api',
    input_tokens: null,
    output_tokens: null,
  };
}

function unpriced(row: PendingRow): UnpricedRow {
  const at = { first_seen_at: row.first_seen_at, unpriced_at: row.event_time };
  return { ...requestFacts(row), ...at, reason: 'no answer', alert_id: '' };
}

describe('billing.open_pending', () => {
  let clickhouse: ClickHouseClient;
  const insert = (table: string, values: object[]) =>
    clickhouse.insert({ table, values, format: 'JSONEachRow' });
  const before0018 = async (month: string) => {
    const result = await clickhouse.query({
      query: BEFORE_0018,
      query_params: { m: Number(month.replace('-', '')) },
      format: 'JSONCompactEachRow',
    });
    return Number((await result.json<[string]>())[0]![0]);
  };

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
    const waiting = pending('p-waiting', 'r-waiting', '2026-10-03T10:00:00.000Z');
    const twice = pending('p-twice', 'r-twice', '2026-10-04T10:00:00.000Z');
    const priced = pending('p-priced', 'r-priced', '2026-10-05T10:00:00.000Z');
    const given = pending('p-unpriced', 'r-unpriced', '2026-10-06T10:00:00.000Z');
    // Another request reusing a priced key: the key is resolved, so it is not counted.
    const reuse = pending('p-priced', 'r-reuse', '2026-10-07T10:00:00.000Z');
    const november = pending('p-november', 'r-november', '2026-11-01T00:00:00.000Z');
    await insert(PENDING_TABLE, [waiting, twice, twice, priced, given, reuse, november]);
    await insert(LEDGER_TABLE, [ledger(priced)]);
    await insert(UNPRICED_TABLE, [unpriced(given)]);
  });

  afterAll(() => clickhouse.close());

  it('counts the keys of a month still waiting, as the statements query before it did', async () => {
    expect(await openPendingCount(clickhouse, '2026-10')).toBe(2);
    expect(await openPendingCount(clickhouse, '2026-11')).toBe(1);
    expect(await openPendingCount(clickhouse, '2026-09')).toBe(0);
    for (const month of ['2026-09', '2026-10', '2026-11']) {
      expect(await openPendingCount(clickhouse, month)).toBe(await before0018(month));
    }
  });

  it('keeps one row per pending row, with the pending table columns', async () => {
    const result = await clickhouse.query({
      query: `SELECT request_id FROM billing.open_pending ORDER BY request_id`,
      format: 'JSONCompactEachRow',
    });
    expect((await result.json<[string]>()).map(([id]) => id)).toEqual([
      'r-november',
      'r-twice',
      'r-twice',
      'r-waiting',
    ]);
  });

  it('lists the months with ledger or pending rows', async () => {
    expect((await monthsWithPricingRows(clickhouse)).sort()).toEqual(['202610', '202611']);
  });
});
