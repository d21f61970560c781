import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { openFinanceSql } from '@nanobill/clickhouse';
import { AccountHistory } from '@nanobill/attribution';
import type { AccountStatus } from '@nanobill/contract';
import { createProducer, ensureTopics } from '@nanobill/kafka';
import {
  collectTopic,
  produce,
  queryValue,
  quietLogger,
  testClickHouse,
  testKafka,
  testWebhookSecrets,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { createMetricsRegistry } from '@nanobill/observability';
import { correctRollups, usageSeries } from '@nanobill/usage';
import type { WebhookSecretStore } from '@nanobill/webhooks';
import {
  createToken,
  startApiServer,
  startStatusView,
  TokenStore,
  type ApiServerOptions,
  type StatusView,
} from '../src/index.js';
import { insertLedger, insertSnapshots, org, type LedgerFixture } from './support.js';

const NOW = new Date('2026-10-20T12:00:00.000Z');
const PROVIDERS = ['groq', 'together', 'fal-ai', 'hf-inference'];

const row = (fields: Partial<LedgerFixture>): LedgerFixture => ({
  account: 'acme',
  user: 'alice',
  provider: 'groq',
  model: 'm1',
  task: 'conversational',
  at: '2026-10-05T10:15:00.000Z',
  cost: 1_000n,
  inputTokens: 10,
  outputTokens: 5,
  ...fields,
});

describe('the HTTP API (real broker, real ClickHouse)', () => {
  const kafka = testKafka();
  const topics = { status: uniqueName('it-status'), accounts: uniqueName('it-accounts') };
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let finance: ReturnType<typeof openFinanceSql>;
  let view: StatusView;
  const servers: Array<{ close(): Promise<void> }> = [];
  let base: string;
  const tokens: Record<string, string> = {};
  let published: Awaited<ReturnType<typeof collectTopic>>;
  let producer: ReturnType<typeof createProducer>;
  let webhookSecrets: WebhookSecretStore;

  async function serve(overrides: Partial<ApiServerOptions> = {}): Promise<string> {
    const server = await startApiServer({
      port: 0,
      logger: quietLogger(),
      clickhouse: ch.client,
      financeSql: finance,
      statuses: view,
      facts: new AccountFactsReader(ch.client, new AccountHistory()),
      tokens: new TokenStore(ch.client, { now: () => NOW }),
      webhookSecrets,
      providers: PROVIDERS,
      publishSettings: async (messages) => {
        await producer.send({
          topic: topics.accounts,
          acks: -1,
          messages: messages.map((m) => ({ key: m.key, value: JSON.stringify(m.settings) })),
        });
      },
      now: () => NOW,
      ...overrides,
    });
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  }

  async function call(
    path: string,
    token: string | undefined,
    init: { method?: string; body?: unknown; base?: string } = {},
  ) {
    const response = await fetch(`${init.base ?? base}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    let body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, headers: response.headers, body };
  }

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic: topics.status, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
      { topic: topics.accounts, numPartitions: 1 },
    ]);
    ch = await testClickHouse();
    webhookSecrets = testWebhookSecrets(ch.client, { now: () => NOW });
    finance = openFinanceSql({ dataDir: ch.dataDir }); // readonly sticks to its connection
    producer = createProducer(kafka);
    await producer.connect();
    await insertSnapshots(ch.client, [
      org('acme', {
        spendingLimitNanoUsd: 5_000_000_000,
        alertWebhookUrl: 'https://hooks.acme.example/n',
      }),
      org('globex', { members: ['carol'] }),
    ]);
    await insertLedger(ch.client, [
      row({}),
      row({ user: 'bob', provider: 'together', cost: 2_500n, at: '2026-10-05T11:00:00.000Z' }),
      row({ user: 'alice', cost: 7n, at: '2026-10-06T00:00:00.000Z', task: 'text-to-image' }),
      row({ user: 'alice', cost: 1_000_000_000n, at: '2026-09-30T23:59:59.999Z' }), // September
      row({ account: 'globex', user: 'carol', cost: 99_999n }),
    ]);
    const status: AccountStatus = {
      schemaVersion: 1,
      accountId: 'acme',
      kind: 'org',
      plan: 'team',
      month: '2026-10',
      status: 'warning',
      reason: 'warning: month-to-date spend $4.00 is at least 80% of the spending limit of $5.00',
      basis: 'spending_limit',
      spendNanoUsd: '4000000000',
      pricedNanoUsd: '3500',
      estimatedNanoUsd: '3999996500',
      limitNanoUsd: '5000000000',
      disabledProviders: [],
      updatedAt: '2026-10-20T11:59:00.000Z',
    };
    await produce(kafka, topics.status, [{ key: 'acme', value: JSON.stringify(status) }]);
    view = await startStatusView({ kafka, topic: topics.status, logger: quietLogger() });
    await view.ready;
    await ch.client.insert({
      table: 'billing.alert_log',
      format: 'JSONEachRow',
      values: ['limit_50', 'limit_80'].map((kind, i) => ({
        alert_id: `threshold:2026-10:acme:${kind}`,
        type: 'spend_threshold',
        severity: 'warning',
        account_id: 'acme',
        provider: null,
        message: `reached ${kind}`,
        details: JSON.stringify({ threshold: kind }),
        created_at: `2026-10-1${i}T00:00:00.000Z`,
        body: '{}',
        webhook_url: 'https://hooks.acme.example/n',
      })),
    });
    await ch.client.insert({
      table: 'billing.alert_deliveries',
      format: 'JSONEachRow',
      values: [
        {
          alert_id: 'threshold:2026-10:acme:limit_80',
          account_id: 'acme',
          url: 'https://hooks.acme.example/n',
          attempt: 1,
          attempted_at: '2026-10-11T00:00:01.000Z',
          outcome: 'retrying',
          http_status: 503,
          error: 'HTTP 503',
          duration_ms: 5,
          next_attempt_at: '2026-10-11T00:00:02.000Z',
        },
        {
          alert_id: 'threshold:2026-10:acme:limit_80',
          account_id: 'acme',
          url: 'https://hooks.acme.example/n',
          attempt: 2,
          attempted_at: '2026-10-11T00:00:02.000Z',
          outcome: 'delivered',
          http_status: 200,
          error: '',
          duration_ms: 4,
          next_attempt_at: null,
        },
      ],
    });
    const make = async (
      kind: 'org' | 'finance' | 'router',
      orgName?: string,
      ttlMs?: number,
      now?: Date,
    ) => (await createToken(ch.client, { kind, org: orgName, ttlMs, now })).token;
    tokens.acme = await make('org', 'acme');
    tokens.globex = await make('org', 'globex');
    tokens.finance = await make('finance');
    tokens.router = await make('router');
    tokens.expired = await make('org', 'acme', 1_000, new Date(NOW.getTime() - 60_000));
    const revoked = await createToken(ch.client, { kind: 'org', org: 'acme' });
    await new TokenStore(ch.client).revoke(revoked.tokenId);
    tokens.revoked = revoked.token;
    published = await collectTopic(kafka, topics.accounts);
    base = await serve();
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await server.close();
    await published?.stop();
    await view?.stop();
    await producer?.disconnect();
    await finance?.close();
    await ch?.client.close();
  });

  it('refuses missing, malformed, unknown, wrong, expired and revoked tokens with 401', async () => {
    const acme = tokens.acme!;
    const wrongSecret = `${acme.slice(0, 17)}${acme.at(17) === 'A' ? 'B' : 'A'}${acme.slice(18)}`;
    const unknownId = `nbk_000000000000_${acme.slice(17)}`;
    for (const token of [
      undefined,
      'nope',
      unknownId,
      wrongSecret,
      tokens.expired,
      tokens.revoked,
    ]) {
      const response = await call('/v1/orgs/acme/spend', token);
      expect(response.status, String(token)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it("answers 404 for every route of another org, and for another account's status", async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/orgs/globex/usage', undefined],
      ['GET', '/v1/orgs/globex/spend', undefined],
      ['GET', '/v1/orgs/globex/alerts', undefined],
      ['PUT', '/v1/orgs/globex/settings', { spendingLimitNanoUsd: '1' }],
      ['GET', '/v1/accounts/globex/status', undefined],
      ['GET', '/v1/orgs/nobody/spend', undefined],
    ] as const) {
      const response = await call(path, tokens.acme, { method, body });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    expect((await call('/v1/orgs/globex/spend', tokens.globex)).status).toBe(200);
  });

  it('serves usage series from the rollups, exact, in UTC buckets', async () => {
    const day = await call(
      '/v1/orgs/acme/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=day&groupBy=member',
      tokens.acme,
    );
    expect(day.status).toBe(200);
    expect(day.body.series).toEqual([
      {
        key: 'alice',
        points: [
          {
            t: '2026-10-05T00:00:00.000Z',
            requests: 1,
            inputTokens: 10,
            outputTokens: 5,
            costNanoUsd: '1000',
          },
          {
            t: '2026-10-06T00:00:00.000Z',
            requests: 1,
            inputTokens: 10,
            outputTokens: 5,
            costNanoUsd: '7',
          },
        ],
      },
      {
        key: 'bob',
        points: [
          {
            t: '2026-10-05T00:00:00.000Z',
            requests: 1,
            inputTokens: 10,
            outputTokens: 5,
            costNanoUsd: '2500',
          },
        ],
      },
    ]);
    expect(day.body.totals).toEqual({
      requests: 3,
      inputTokens: 30,
      outputTokens: 15,
      costNanoUsd: '3507',
    });
    const month = await call(
      '/v1/orgs/acme/usage?from=2026-09-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=month&groupBy=provider',
      tokens.acme,
    );
    expect(
      month.body.series.map((s: { key: string; points: { t: string; costNanoUsd: string }[] }) => [
        s.key,
        s.points.map((p) => [p.t, p.costNanoUsd]),
      ]),
    ).toEqual([
      [
        'groq',
        [
          ['2026-09-01T00:00:00.000Z', '1000000000'],
          ['2026-10-01T00:00:00.000Z', '1007'],
        ],
      ],
      ['together', [['2026-10-01T00:00:00.000Z', '2500']]],
    ]);
  });

  describe("usage answers: kept while the org's usage version is unchanged, with ETags", () => {
    // Orgs of their own: the rows these tests add change no other test's figures.
    const window =
      'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=day&groupBy=model';
    const usagePath = (account: string, query = window) => `/v1/orgs/${account}/usage?${query}`;
    const initechRow = (fields: Partial<LedgerFixture> = {}) =>
      row({ account: 'initech', user: 'ida', model: 'm1', cost: 11n, ...fields });
    const fresh = () =>
      usageSeries(ch.client, {
        account: 'initech',
        from: new Date('2026-10-01T00:00:00Z'),
        to: new Date('2026-11-01T00:00:00Z'),
        granularity: 'day',
        groupBy: 'model',
      });
    let initech: string;
    let umbrella: string;

    beforeAll(async () => {
      initech = (await createToken(ch.client, { kind: 'org', org: 'initech' })).token;
      umbrella = (await createToken(ch.client, { kind: 'org', org: 'umbrella' })).token;
      await insertLedger(ch.client, [
        initechRow(),
        row({ account: 'umbrella', user: 'uma', model: 'm1', cost: 22n }),
      ]);
    });

    async function conditional(path: string, token: string, etag: string) {
      return fetch(`${base}${path}`, {
        headers: { authorization: `Bearer ${token}`, 'if-none-match': etag },
      });
    }

    it('sends a strong ETag varying on Authorization, and 304 when If-None-Match names it', async () => {
      const first = await call(usagePath('initech'), initech);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]{20,}"$/);
      expect(first.headers.get('vary')?.toLowerCase()).toContain('authorization');
      expect(first.headers.get('cache-control')).toBe('no-store');
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`]) {
        const again = await conditional(usagePath('initech'), initech, header);
        expect(again.status, header).toBe(304);
        expect(await again.text()).toBe('');
        expect(again.headers.get('etag')).toBe(etag);
      }
      // Another spelling of the same instants is the same answer.
      const variant = await call(
        usagePath(
          'initech',
          'groupBy=model&granularity=day&to=2026-11-01T00:00:00.000Z&from=2026-10-01T00:00:00.000Z&extra=1',
        ),
        initech,
      );
      expect(variant.headers.get('etag')).toBe(etag);
      expect(variant.body).toEqual(first.body);
      // A changed answer is sent in full.
      expect((await conditional(usagePath('initech'), initech, '"stale"')).status).toBe(200);
    });

    it("never gives one org another org's kept answer, whatever the ETag sent", async () => {
      const initechAnswer = await call(usagePath('initech'), initech);
      const etag = initechAnswer.headers.get('etag')!;
      // Umbrella's token on Initech's graph: 404, with or without Initech's ETag.
      expect((await call(usagePath('initech'), umbrella)).status).toBe(404);
      expect((await conditional(usagePath('initech'), umbrella, etag)).status).toBe(404);
      // Umbrella's own graph, same query: its own figures, its own ETag, not a 304.
      const own = await conditional(usagePath('umbrella'), umbrella, etag);
      expect(own.status).toBe(200);
      const body = await own.json();
      expect(body.org).toBe('umbrella');
      expect(body.totals.costNanoUsd).toBe('22');
      expect(own.headers.get('etag')).not.toBe(etag);
      expect(initechAnswer.body.totals.costNanoUsd).not.toBe('22');
    });

    it('shows a new ledger row, exact to the nano-USD, under a new ETag', async () => {
      // A server of its own, whose metrics show the answer kept, then computed again.
      const registry = createMetricsRegistry();
      const own = { base: await serve({ metrics: registry }) };
      const before = await call(usagePath('initech'), initech, own);
      const kept = await call(usagePath('initech'), initech, own);
      expect(kept.headers.get('etag')).toBe(before.headers.get('etag'));
      expect(await registry.metrics()).toContain('nanobill_usage_answers_total{outcome="hit"} 1');
      await insertLedger(ch.client, [initechRow({ model: 'm2', cost: 123_456_789_012n })]);
      const after = await waitFor('the new ledger row in the graph', async () => {
        const answer = await call(usagePath('initech'), initech, own);
        return answer.body.totals.requests === before.body.totals.requests + 1 ? answer : undefined;
      });
      expect(BigInt(after.body.totals.costNanoUsd) - BigInt(before.body.totals.costNanoUsd)).toBe(
        123_456_789_012n,
      );
      expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
      const { series, totals } = await fresh();
      expect(after.body.series).toEqual(series);
      expect(after.body.totals).toEqual(totals);
      // The ETag the dashboard holds is no longer current: the new answer comes in full.
      const revalidated = await conditional(
        usagePath('initech'),
        initech,
        before.headers.get('etag')!,
      );
      expect(revalidated.status).toBe(200);
      expect(await registry.metrics()).toMatch(
        /nanobill_usage_answers_total\{outcome="stale"\} [1-9]/,
      );
    });

    it('shows the correction of a request inserted twice (the corrections change the version too)', async () => {
      const before = await call(usagePath('initech'), initech);
      const twice = initechRow({ providerRequestId: 'initech-twice', cost: 1_000n });
      await insertLedger(ch.client, [twice]);
      await insertLedger(ch.client, [twice]);
      await waitFor('the request counted twice by the rollups', async () => {
        const answer = await call(usagePath('initech'), initech);
        return answer.body.totals.requests === before.body.totals.requests + 2 ? true : undefined;
      });
      expect(await correctRollups(ch.client)).toBeGreaterThan(0);
      const corrected = await waitFor('the corrected graph', async () => {
        const answer = await call(usagePath('initech'), initech);
        return answer.body.totals.requests === before.body.totals.requests + 1 ? answer : undefined;
      });
      expect(
        BigInt(corrected.body.totals.costNanoUsd) - BigInt(before.body.totals.costNanoUsd),
      ).toBe(1_000n);
      expect(corrected.body.series).toEqual((await fresh()).series);
    });
  });

  it('never splices input into SQL: injection attempts in every parameter change nothing', async () => {
    const before = await queryValue(ch.client, 'SELECT count() FROM billing.ledger_entries');
    const attempts = [
      ["/v1/orgs/acme'%20OR%20'1'='1/usage", tokens.acme, 'GET', undefined],
      [
        '/v1/orgs/acme/usage?groupBy=member%3B%20DROP%20TABLE%20billing.ledger_entries',
        tokens.acme,
        'GET',
        undefined,
      ],
      [
        "/v1/orgs/acme/usage?from=2026-10-01T00:00:00Z'%20OR%201%3D1%20--",
        tokens.acme,
        'GET',
        undefined,
      ],
      ['/v1/orgs/acme/alerts?limit=1%20UNION%20SELECT%201', tokens.acme, 'GET', undefined],
      ["/v1/accounts/acme'%20OR%201%3D1%20--/status", tokens.router, 'GET', undefined],
      [
        '/v1/orgs/acme/settings',
        tokens.acme,
        'PUT',
        { spendingLimitNanoUsd: "1'; DROP TABLE billing.ledger_entries; --" },
      ],
      [
        '/v1/orgs/acme/settings',
        tokens.acme,
        'PUT',
        { disabledProviders: ["groq'); DROP TABLE x; --"] },
      ],
      ['/v1/finance/query', tokens.finance, 'POST', { sql: 'DROP TABLE billing.ledger_entries' }],
      [
        '/v1/finance/query',
        tokens.finance,
        'POST',
        { sql: "INSERT INTO billing.api_tokens (token_id) VALUES ('x')" },
      ],
    ] as const;
    for (const [path, token, method, body] of attempts) {
      const response = await call(path, token, { method, body });
      expect([400, 404], `${method} ${path}`).toContain(response.status);
    }
    expect(await queryValue(ch.client, 'SELECT count() FROM billing.ledger_entries')).toBe(before);
    expect(
      await queryValue(ch.client, "SELECT count() FROM billing.api_tokens WHERE token_id = 'x'"),
    ).toBe('0');
  });

  it('serves month-to-date spend: gross, credits, payable, limit, status and forecast', async () => {
    const response = await call('/v1/orgs/acme/spend', tokens.acme);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      org: 'acme',
      month: '2026-10',
      plan: 'team',
      grossNanoUsd: '3507', // October only
      creditsGrantedNanoUsd: '4000000000', // 2 seats × $2.00
      creditsAppliedNanoUsd: '3507',
      payableNanoUsd: '0',
      limitNanoUsd: '5000000000',
      alertWebhookUrl: 'https://hooks.acme.example/n',
      providers: ['fal-ai', 'groq', 'hf-inference', 'together'],
      status: { status: 'warning', spendNanoUsd: '4000000000', basis: 'spending_limit' },
    });
    // 19.5 of 31 days elapsed: 3507 × 31 / 19.5 = 5575.23… → 5575
    expect(response.body.forecastNanoUsd).toBe('5575');
  });

  it('publishes settings as settings messages, one per field, and names the field of bad ones', async () => {
    const ok = await call('/v1/orgs/acme/settings', tokens.acme, {
      method: 'PUT',
      body: { spendingLimitNanoUsd: '1000000000', disabledProviders: ['together', 'groq', 'groq'] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.snapshot).toMatchObject({
      accountId: 'acme',
      spendingLimitNanoUsd: '1000000000',
      disabledProviders: ['groq', 'together'],
      alertWebhookUrl: 'https://hooks.acme.example/n',
      members: ['alice', 'bob'],
    });
    expect(Date.parse(ok.body.snapshot.effectiveAt)).toBeGreaterThan(
      Date.parse('2026-10-01T00:00:00.000Z'),
    );
    // Only the admin's fields, never a copy of the hub's: one message per field, keyed by it.
    const onTopic = await waitFor('the settings on billing.accounts.v1', async () => {
      const acme = published.messages.filter((m) => m.key?.toString().startsWith('acme:'));
      return acme.length >= 2 ? acme : undefined;
    });
    const effectiveAt = ok.body.snapshot.effectiveAt;
    expect(onTopic.map((m) => [m.key?.toString(), JSON.parse(m.value!.toString())])).toEqual([
      [
        'acme:spendingLimitNanoUsd',
        {
          schemaVersion: 1,
          source: 'admin',
          accountId: 'acme',
          effectiveAt,
          spendingLimitNanoUsd: '1000000000',
        },
      ],
      [
        'acme:disabledProviders',
        {
          schemaVersion: 1,
          source: 'admin',
          accountId: 'acme',
          effectiveAt,
          disabledProviders: ['groq', 'together'],
        },
      ],
    ]);

    const cleared = await call('/v1/orgs/acme/settings', tokens.acme, {
      method: 'PUT',
      body: { spendingLimitNanoUsd: null, alertWebhookUrl: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.snapshot.spendingLimitNanoUsd).toBeUndefined();
    expect(cleared.body.snapshot.alertWebhookUrl).toBeUndefined();

    for (const [body, field] of [
      [{}, 'body'],
      [{ spendingLimitNanoUsd: 5 }, 'spendingLimitNanoUsd'],
      [{ spendingLimitNanoUsd: '-1' }, 'spendingLimitNanoUsd'],
      [{ spendingLimitNanoUsd: '9223372036854775808' }, 'spendingLimitNanoUsd'],
      [{ disabledProviders: ['nope'] }, 'disabledProviders.0'],
      [{ alertWebhookUrl: 'http://hooks.example/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://10.1.2.3/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://localhost/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://localhost./x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://2130706433/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://0x7f.1/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[::ffff:127.0.0.1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[fd00::1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://100.64.0.1/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://198.18.0.1/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[64:ff9b::7f00:1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[2002:7f00:1::1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[fec0::1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://[2001::1]/x' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://169.254.169.254/latest/meta-data' }, 'alertWebhookUrl'],
      [{ alertWebhookUrl: 'https://user:pw@hooks.example/x' }, 'alertWebhookUrl'],
      [{ seats: 100 }, 'seats'],
    ] as const) {
      const response = await call('/v1/orgs/acme/settings', tokens.acme, { method: 'PUT', body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.field, JSON.stringify(body)).toBe(field);
    }
  });

  it('makes a webhook signing secret with the first webhook URL, shown once, and rotates it', async () => {
    const set = (url: string) =>
      call('/v1/orgs/globex/settings', tokens.globex, {
        method: 'PUT',
        body: { alertWebhookUrl: url },
      });
    const first = await set('https://hooks.globex.example/a');
    expect(first.status).toBe(200);
    expect(first.body.webhookSecret).toMatch(/^nbwhsec_[A-Za-z0-9_-]{43}$/);
    // Stored encrypted: the secret itself is nowhere in the table.
    const stored = await queryValue(
      ch.client,
      "SELECT groupArray(sealed) FROM billing.webhook_secrets WHERE account_id = 'globex'",
    );
    expect(JSON.stringify(stored)).not.toContain(first.body.webhookSecret.slice(8));
    // Shown once: changing the URL again does not show it (nor make another).
    const second = await set('https://hooks.globex.example/b');
    expect(second.status).toBe(200);
    expect(second.body).not.toHaveProperty('webhookSecret');
    expect((await webhookSecrets.read('globex'))?.current.secret).toBe(first.body.webhookSecret);

    const rotated = await call('/v1/orgs/globex/webhook-secret', tokens.globex, {
      method: 'POST',
      body: {},
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      secret: expect.stringMatching(/^nbwhsec_/),
      previousValidUntil: new Date(NOW.getTime() + 24 * 3_600_000).toISOString(),
    });
    expect(rotated.body.secret).not.toBe(first.body.webhookSecret);
    const now = await webhookSecrets.read('globex');
    expect(now?.current.secret).toBe(rotated.body.secret);
    expect(now?.previous?.secret).toBe(first.body.webhookSecret);

    // No overlap: the previous secret stops at once (e.g. after a leak).
    const cut = await call('/v1/orgs/globex/webhook-secret', tokens.globex, {
      method: 'POST',
      body: { overlapHours: 0 },
    });
    expect(cut.body.previousValidUntil).toBeNull();
    expect((await webhookSecrets.read('globex'))?.previous).toBeUndefined();

    for (const body of [{ overlapHours: -1 }, { overlapHours: 100_000 }, { other: 1 }]) {
      const bad = await call('/v1/orgs/globex/webhook-secret', tokens.globex, {
        method: 'POST',
        body,
      });
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
    // Another org's token, or none: nothing is rotated or revealed.
    for (const token of [tokens.acme, tokens.finance, undefined]) {
      const denied = await call('/v1/orgs/globex/webhook-secret', token, {
        method: 'POST',
        body: {},
      });
      expect(denied.status).toBeGreaterThanOrEqual(401);
      expect(denied.body).not.toHaveProperty('secret');
    }
    expect((await webhookSecrets.read('globex'))?.current.secret).toBe(cut.body.secret);
  });

  it('lists recent alerts with their deliveries', async () => {
    const response = await call('/v1/orgs/acme/alerts?limit=10', tokens.acme);
    expect(response.status).toBe(200);
    expect(response.body.alerts).toEqual([
      expect.objectContaining({
        alertId: 'threshold:2026-10:acme:limit_80',
        createdAt: '2026-10-11T00:00:00.000Z',
        delivery: {
          outcome: 'delivered',
          attempts: 2,
          lastError: null,
          lastAttemptAt: '2026-10-11T00:00:02.000Z',
        },
      }),
      expect.objectContaining({ alertId: 'threshold:2026-10:acme:limit_50', delivery: null }),
    ]);
    expect((await call('/v1/orgs/globex/alerts', tokens.globex)).body.alerts).toEqual([]);
  });

  it('serves account statuses to router tokens and to the account itself', async () => {
    expect((await call('/v1/accounts/acme/status', tokens.router)).body.status).toBe('warning');
    expect((await call('/v1/accounts/acme/status', tokens.acme)).body.status).toBe('warning');
    expect((await call('/v1/accounts/nobody/status', tokens.router)).status).toBe(404);
    expect((await call(`/v1/accounts/${'x'.repeat(300)}/status`, tokens.router)).body.field).toBe(
      'id',
    );
  });

  it('runs read-only SQL for finance only, with limits', async () => {
    const sum = await call('/v1/finance/query', tokens.finance, {
      method: 'POST',
      body: {
        sql: "SELECT toString(sum(cost_nano_usd)) AS total FROM billing.ledger WHERE billed_account = 'acme'",
      },
    });
    expect(sum.status).toBe(200);
    expect(sum.body).toEqual({ rows: [{ total: '1000003507' }], rowCount: 1 });
    expect(
      (await call('/v1/finance/query', tokens.acme, { method: 'POST', body: { sql: 'SELECT 1' } }))
        .status,
    ).toBe(403);
    const tooMany = await call('/v1/finance/query', tokens.finance, {
      method: 'POST',
      body: { sql: 'SELECT arrayJoin(range(200000)) AS n' },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ field: 'sql', error: expect.stringMatching(/rows/i) });
    // The limits cannot be lifted from the SQL itself.
    const lifted = await call('/v1/finance/query', tokens.finance, {
      method: 'POST',
      body: {
        sql: 'SELECT arrayJoin(range(200000)) AS n SETTINGS max_result_rows = 0, readonly = 0',
      },
    });
    expect(lifted.status).toBe(400);
    expect(lifted.body.error).toMatch(/SETTINGS is not allowed/);
  });

  it('rate-limits per token', async () => {
    const limited = await serve({ rateLimit: { perToken: 3, perAddress: 100 } });
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await call('/v1/orgs/acme/spend', tokens.acme, { base: limited })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another token has its own allowance.
    expect((await call('/v1/orgs/globex/spend', tokens.globex, { base: limited })).status).toBe(
      200,
    );
  });

  it('publishes its OpenAPI document at /docs and serves the dashboard with a strict CSP', async () => {
    const spec = await call('/docs/json', undefined);
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/orgs/{org}/usage',
        '/v1/orgs/{org}/spend',
        '/v1/orgs/{org}/settings',
        '/v1/orgs/{org}/alerts',
        '/v1/accounts/{id}/status',
        '/v1/finance/query',
      ]),
    );
    expect((await call('/docs', undefined)).status).toBeLessThan(400);
    const page = await call('/', undefined);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await call('/assets/vendor/chart.umd.js', undefined)).status).toBe(200);
  });
});
