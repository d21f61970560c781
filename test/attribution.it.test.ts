import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { DLQ_HEADERS, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { startPricing, type PricingService } from '@nanobill/pricing';
import { parseProviders } from '@nanobill/providers';
import { startProviderSimulator, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  produce,
  queryValue,
  readTopic,
  testBed,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';
import { startBedAccounts } from './fixtures/bed-services.js';

// Accounts service + pricing on the real broker and ClickHouse: who pays (docs/contract.md §5).
describe('X-HF-Bill-To attribution at the request time', () => {
  const hour = 60 * 60 * 1000;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const [t0, t1, t2] = [now - 3 * hour, now - 2 * hour, now - hour];
  const tag = uniqueName('attr');
  const id = (name: string) => `${tag}-${name}`;
  let bed: TestBed<'requests' | 'alerts' | 'accounts' | 'accountsDlq'>;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let topics: typeof bed.topics;
  let simulator: ProviderSimulator;
  let pricing: PricingService;
  let accounts: { stop(): Promise<void> };

  const user = (name: string, plan: 'free' | 'pro') => ({
    schemaVersion: 1,
    accountId: id(name),
    kind: 'user',
    plan,
    effectiveAt: iso(t0),
  });
  const org = (name: string, plan: string, members: string[], at: number) => ({
    schemaVersion: 1,
    accountId: id(name),
    kind: 'org',
    plan,
    effectiveAt: iso(at),
    seats: 10,
    members: members.map(id),
  });
  const request = (name: string, userName: string, billTo: string | undefined, at: number) => ({
    schemaVersion: 1,
    requestId: id(name),
    timestamp: iso(at),
    userId: id(userName),
    ...(billTo ? { billTo: id(billTo) } : {}),
    provider: 'sim-attr',
    model: 'openai/gpt-oss-120b',
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: `p-${id(name)}`,
    status: 200,
  });

  beforeAll(async () => {
    bed = await testBed({
      requests: 3,
      alerts: 1,
      accounts: { partitions: 3, compact: true },
      accountsDlq: 1,
    });
    ({ kafka, clickhouse, topics } = bed);
    simulator = await startProviderSimulator({ providers: { 'sim-attr': { token: 't' } } });
    process.env.NANOBILL_TEST_TOKEN_ATTR = 't';
    const providers = parseProviders({
      'sim-attr': { costUrl: simulator.costUrl('sim-attr'), tokenEnv: 'NANOBILL_TEST_TOKEN_ATTR' },
    });
    accounts = await startBedAccounts(bed);
    pricing = await startPricing({
      kafka,
      clickhouse,
      logger: bed.logger,
      metrics: createMetricsRegistry(),
      providers,
      topics: { requests: topics.requests, alerts: topics.alerts },
      groupId: uniqueName('pricing'),
      schedule: null,
      graceMs: 10 * 60 * 1000,
    });
  });

  afterAll(async () => {
    await pricing?.stop();
    await accounts?.stop();
    await simulator?.close();
    await bed?.close();
  });

  it('bills the org only for its members at the time, on a paying plan; the user otherwise', async () => {
    const snapshots = [
      user('alice', 'free'),
      user('bob', 'pro'),
      user('carol', 'free'),
      org('acme', 'enterprise', ['alice'], t0),
      org('acme', 'enterprise', ['alice', 'carol'], t2), // carol joins after her request
      org('freeco', 'free', ['bob'], t0),
    ];
    await produce(kafka, topics.accounts, [
      ...snapshots.map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
      {
        key: id('broken'),
        value: JSON.stringify({ ...user('broken', 'free'), plan: 'enterprise' }),
      },
    ]);
    const dlq = await readTopic(kafka, topics.accountsDlq, 1);
    expect(dlq[0]!.headers![DLQ_HEADERS.reason]!.toString()).toContain('plan');
    await waitFor('the snapshots stored', async () => {
      const n = Number(
        await queryValue(clickhouse, 'SELECT count() FROM billing.account_snapshots'),
      );
      return n === snapshots.length ? true : undefined;
    });

    const requests = [
      request('member', 'alice', 'acme', t1),
      request('non-member', 'bob', 'acme', t1),
      request('free-org', 'bob', 'freeco', t1),
      request('joined-later', 'carol', 'acme', t1),
      request('no-bill-to', 'bob', undefined, t1),
      request('unknown-user', 'dave', undefined, now), // no snapshot yet, within the grace
    ];
    await produce(
      kafka,
      topics.requests,
      requests.map((r) => ({ key: r.requestId, value: JSON.stringify(r) })),
    );
    await waitFor('the requests pending', async () =>
      pricing.pendingCount() === requests.length ? true : undefined,
    );
    const report = await pricing.priceNow();
    expect(report.waiting).toBe(1);
    expect(pricing.pendingCount()).toBe(1);

    const rs = await clickhouse.query({
      query:
        'SELECT request_id, billed_account, attribution, attribution_reason FROM billing.ledger',
      format: 'JSONEachRow',
    });
    const rows = new Map(
      (
        await rs.json<{
          request_id: string;
          billed_account: string;
          attribution: string;
          attribution_reason: string;
        }>()
      ).map((r) => [r.request_id, r]),
    );
    expect(rows.get(id('member'))).toMatchObject({
      billed_account: id('acme'),
      attribution: 'org',
    });
    expect(rows.get(id('non-member'))).toMatchObject({
      billed_account: id('bob'),
      attribution: 'user_fallback',
    });
    expect(rows.get(id('free-org'))).toMatchObject({
      billed_account: id('bob'),
      attribution: 'user_fallback',
    });
    expect(rows.get(id('joined-later'))).toMatchObject({
      billed_account: id('carol'),
      attribution: 'user_fallback',
    });
    expect(rows.get(id('no-bill-to'))).toMatchObject({
      billed_account: id('bob'),
      attribution: 'user',
    });
    expect(rows.has(id('unknown-user'))).toBe(false);
    for (const name of ['non-member', 'free-org', 'joined-later']) {
      expect(rows.get(id(name))!.attribution_reason.length).toBeGreaterThan(0);
    }

    // Each fallback alerts the user billed, and the org named (acme and freeco exist as orgs).
    const alerts = await readTopic(kafka, topics.alerts, 6);
    const fallbacks = alerts.map(
      (m) =>
        JSON.parse(m.value!.toString()) as { type: string; accountId: string; alertId: string },
    );
    expect(fallbacks.every((a) => a.type === 'attribution_fallback')).toBe(true);
    expect(fallbacks.map((a) => a.accountId).sort()).toEqual(
      [id('bob'), id('bob'), id('carol'), id('acme'), id('acme'), id('freeco')].sort(),
    );
    expect(new Set(fallbacks.map((a) => a.alertId)).size).toBe(6);
  });
});
