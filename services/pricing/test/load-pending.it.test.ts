import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { testClickHouse } from '@nanobill/testkit';
import { pendingRow } from '../src/rows.js';
import { loadPending } from '../src/writers.js';
import type { RoutedRequestEvent } from '@nanobill/contract';

// The reload of assigned partitions' pending requests runs at every start and rebalance: it must
// read a window bounded by the deadline, never the whole history of the pending, ledger and
// unpriced tables (docs/architecture.md "How pricing stays exact"). ClickHouse proves it: with
// `force_index_by_date` a query that cannot restrict a time-partitioned table by time is refused.
describe('loadPending (real chdb)', () => {
  let clickhouse: ClickHouseClient;
  const NOW = new Date('2026-11-25T12:00:00.000Z');
  const DAY = 24 * 60 * 60_000;

  const event = (id: string, eventTime: Date): RoutedRequestEvent =>
    ({
      schemaVersion: 1,
      requestId: `r-${id}`,
      timestamp: eventTime.toISOString(),
      userId: 'u1',
      provider: 'groq',
      model: 'm',
      task: 'conversational',
      billingMode: 'routed',
      providerRequestId: `p-${id}`,
    }) as RoutedRequestEvent;
  const pending = (id: string, firstSeen: Date, providerRequestId = `p-${id}`) =>
    pendingRow(
      { ...event(id, new Date(firstSeen.getTime() - 60_000)), providerRequestId },
      firstSeen,
      0,
    );

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
    const recent = new Date(NOW.getTime() - 60 * 60_000);
    await clickhouse.insert({
      table: 'billing.pricing_pending',
      format: 'JSONEachRow',
      values: [
        pending('waiting', recent),
        pending('priced', recent),
        pending('reuse', new Date(recent.getTime() + 1_000), 'p-priced'),
        pending('long-ago', new Date(NOW.getTime() - 30 * DAY)),
      ],
    });
    // The ledger holds a year of history besides the request priced in the window.
    await clickhouse.insert({
      table: 'billing.ledger_entries',
      format: 'JSONEachRow',
      values: ['2025-11-20T00:00:00.000Z', recent.toISOString()].map((time, i) => ({
        provider: 'groq',
        provider_request_id: i === 0 ? 'p-old' : 'p-priced',
        request_id: i === 0 ? 'r-old' : 'r-priced',
        event_time: time.replace('T', ' ').replace('Z', ''),
        priced_at: time.replace('T', ' ').replace('Z', ''),
        user_id: 'u1',
        billed_account: 'u1',
        attribution: 'user',
        model: 'm',
        task: 'conversational',
        cost_nano_usd: '1',
        cost_source: 'provider_api',
      })),
    });
  });
  afterAll(async () => {
    await clickhouse?.close();
  });

  it('reads only the deadline window of each table, and returns each unresolved request once (a reuse beside the id it reuses)', async () => {
    const strict = new Proxy(clickhouse, {
      get(target, property) {
        if (property === 'query') {
          return (params: Parameters<ClickHouseClient['query']>[0]) =>
            target.query({
              ...params,
              clickhouse_settings: { ...params.clickhouse_settings, force_index_by_date: 1 },
            });
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { rows } = await loadPending(strict, [0], { since: new Date(NOW.getTime() - 2 * DAY) });
    expect(rows.map((r) => [r.request_id, r.provider_request_id])).toEqual([
      ['r-waiting', 'p-waiting'],
      ['r-reuse', 'p-priced'],
    ]);
  });

  it('reads page by page, oldest first: each page ends with a millisecond and says where the next starts', async () => {
    const since = new Date(NOW.getTime() - 2 * DAY);
    const first = await loadPending(clickhouse, [0], { since, limit: 1 });
    expect(first.rows.map((r) => r.request_id)).toEqual(['r-waiting']);
    const recent = Date.parse(first.rows[0]!.first_seen_at);
    expect(first.nextFromMs).toBe(recent + 1);
    const second = await loadPending(clickhouse, [0], {
      since,
      fromMs: first.nextFromMs,
      limit: 1,
    });
    expect(second.rows.map((r) => r.request_id)).toEqual(['r-reuse']);
    expect(second.nextFromMs).toBeUndefined();
  });
});
