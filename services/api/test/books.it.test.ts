import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { openFinanceSql, type ClickHouseClient } from '@nanobill/clickhouse';
import { startStatements } from '@nanobill/statements';
import { quietLogger, testClickHouse, testWebhookSecrets } from '@nanobill/testkit';
import { createToken, startApiServer, TokenStore, NO_STATUSES } from '../src/index.js';
import { insertSnapshots } from './support.js';

const NOW = new Date('2026-10-20T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;

const raw = (key: string, fields: Record<string, unknown>) => ({
  provider: 'groq',
  provider_request_id: key,
  request_id: `r-${key}`,
  event_time: '2026-10-05T10:15:00.000Z',
  priced_at: '2026-10-05T10:16:00.000Z',
  user_id: 'alice',
  billed_account: 'acme',
  attribution: 'org',
  attribution_reason: '',
  bill_to: 'acme',
  model: 'm1',
  task: 'conversational',
  cost_nano_usd: '1000',
  cost_source: 'provider_api',
  input_tokens: 10,
  output_tokens: 5,
  ...fields,
});

/** Per account, dimension, key and hour: a rollup and the same figures from billing.ledger. */
const BY_KEY = (from: string) => `
  SELECT billed_account, dimension, key, hour,
         toString(sum(requests)), toString(sum(input_tokens)), toString(sum(output_tokens)),
         toString(sum(toInt128(cost_nano_usd)))
  FROM ${from}
  GROUP BY billed_account, dimension, key, hour
  HAVING sum(requests) != 0 OR sum(toInt128(cost_nano_usd)) != 0
  ORDER BY billed_account, dimension, key, hour`;
const LEDGER_BY_KEY = `(
  SELECT billed_account, d.1 AS dimension, d.2 AS key, toStartOfHour(event_time, 'UTC') AS hour,
         1 AS requests, ifNull(input_tokens, 0) AS input_tokens,
         ifNull(output_tokens, 0) AS output_tokens, cost_nano_usd
  FROM billing.ledger
  ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d)`;

async function rows(client: ClickHouseClient, query: string): Promise<unknown[]> {
  const result = await client.query({ query, format: 'JSONCompactEachRow' });
  return result.json();
}

// Real (embedded) ClickHouse: the books an org admin sees agree with the ledger and statements.
describe('rollups and the spend page against the ledger and the statement', () => {
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  const insert = (values: unknown[]) =>
    ch.client.insert({ table: 'billing.ledger_entries', values, format: 'JSONEachRow' });
  const statements = (now: string) =>
    startStatements({
      clickhouse: ch.client,
      logger: quietLogger(),
      deadlineMs: DAY,
      schedule: null,
      correctionsEveryMs: null,
      now: () => new Date(now),
      claimSettleMs: 50,
    });

  beforeAll(async () => {
    ch = await testClickHouse();
    await insertSnapshots(ch.client, [
      {
        schemaVersion: 1,
        accountId: 'acme',
        kind: 'org',
        plan: 'team',
        effectiveAt: '2026-09-01T00:00:00.000Z',
        seats: 2,
        members: ['alice', 'bob'],
      },
    ]);
    await insert([
      raw('sep-1', {
        event_time: '2026-09-15T00:00:00.000Z',
        priced_at: '2026-09-15T00:01:00.000Z',
      }),
      raw('oct-1', {}),
      raw('oct-2', {
        user_id: 'bob',
        cost_nano_usd: '2500',
        event_time: '2026-10-06T11:00:00.000Z',
      }),
    ]);
    // September turns final on October 5th.
    const closing = await statements('2026-10-05T00:00:00Z');
    await closing.refresh();
    await closing.stop();
    // Racing or replayed pricing writers store two requests a second time.
    await insert([raw('oct-1', {})]);
    await insert([
      raw('oct-2', {
        user_id: 'bob',
        cost_nano_usd: '2500',
        event_time: '2026-10-06T11:00:00.000Z',
        priced_at: '2026-10-06T11:05:00.000Z',
      }),
    ]);
    // A September request priced after September's cut-off: an adjustment of October.
    await insert([
      raw('sep-late', {
        event_time: '2026-09-30T23:00:00.000Z',
        priced_at: '2026-10-10T00:00:00.000Z',
        cost_nano_usd: '7000',
      }),
    ]);
    const current = await statements(NOW.toISOString());
    await current.refresh();
    await current.stop();
  });
  afterAll(() => ch?.client.close());

  it('the rollups equal billing.ledger per account, dimension, key and hour, duplicated raw rows included', async () => {
    const ledger = await rows(ch.client, BY_KEY(LEDGER_BY_KEY));
    expect(ledger.length).toBeGreaterThan(0);
    expect(await rows(ch.client, BY_KEY('billing.usage_by_key_hourly'))).toEqual(ledger);
    const hourly = `(SELECT billed_account, d.1 AS dimension, d.2 AS key, hour, requests, input_tokens,
                            output_tokens, cost_nano_usd FROM billing.usage_hourly
                     ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d)`;
    expect(await rows(ch.client, BY_KEY(hourly))).toEqual(ledger);
    const byDay = (from: string) => BY_KEY(from).replaceAll('hour', 'day');
    const ledgerDays = await rows(
      ch.client,
      byDay(
        LEDGER_BY_KEY.replace(
          "toStartOfHour(event_time, 'UTC') AS hour",
          "toDate(event_time, 'UTC') AS day",
        ),
      ),
    );
    expect(await rows(ch.client, byDay('billing.usage_by_key_daily'))).toEqual(ledgerDays);
  });

  it("the spend page's month to date is the statement's, late adjustments included", async () => {
    const financeSql = openFinanceSql({ dataDir: ch.dataDir });
    const server = await startApiServer({
      port: 0,
      logger: quietLogger(),
      clickhouse: ch.client,
      financeSql,
      statuses: NO_STATUSES,
      facts: new AccountFactsReader(ch.client, new AccountHistory()),
      tokens: new TokenStore(ch.client, { now: () => NOW }),
      webhookSecrets: testWebhookSecrets(ch.client, { now: () => NOW }),
      providers: ['groq'],
      publishSettings: async () => undefined,
      now: () => NOW,
    });
    try {
      const token = (await createToken(ch.client, { kind: 'org', org: 'acme', now: NOW })).token;
      const get = async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(200);
        return (await response.json()) as Record<string, unknown>;
      };
      const [statement] = await rows(
        ch.client,
        "SELECT gross_nano_usd, adjustment_nano_usd, status FROM billing.statements WHERE month = '2026-10' AND account_id = 'acme'",
      );
      // $0.000001 + $0.0000025 of October, once each, and September's late $0.000007.
      expect(statement).toEqual(['10500', '7000', 'draft']);
      const spend = await get('/v1/orgs/acme/spend');
      expect(spend.grossNanoUsd).toBe('10500');
      const usage = await get(
        '/v1/orgs/acme/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=day&groupBy=member',
      );
      expect(usage.totals).toMatchObject({ requests: 2, costNanoUsd: '3500' });
    } finally {
      await server.close();
      await financeSql.close?.();
    }
  });
});
