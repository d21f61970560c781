import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseError } from '@clickhouse/client';
import kafkajs from 'kafkajs';
import { AccountHistory } from '@nanobill/attribution';
import type { AccountStatus } from '@nanobill/contract';
import { quietLogger } from '@nanobill/testkit';
import { org } from './support.js';
import { buildApiServer, NO_STATUSES, type OrgQueries, type Principal } from '../src/index.js';

const { KafkaJSError } = kafkajs;

// The HTTP layer alone, through app.inject() (no socket, no database, no broker): auth,
// validation, error mapping and the shape of every answer, with fakes behind the routes. The one
// path through real ClickHouse and Kafka is api.it.test.ts.

const NOW = new Date('2026-10-20T12:00:00.000Z');
const INT64_MAX = '9223372036854775807';
const SECRET_DETAIL = 'DB::Exception: password=hunter2 on host ch-internal-7';

const PRINCIPALS: Record<string, Principal> = {
  'acme-token': { kind: 'org', org: 'acme', tokenId: 'a' },
  'router-token': { kind: 'router', tokenId: 'r' },
  'finance-token': { kind: 'finance', tokenId: 'f' },
};

const STATUS: AccountStatus = {
  schemaVersion: 1,
  accountId: 'acme',
  kind: 'org',
  plan: 'team',
  month: '2026-10',
  status: 'blocked',
  reason: 'blocked: over the limit',
  basis: 'spending_limit',
  spendNanoUsd: INT64_MAX,
  pricedNanoUsd: INT64_MAX,
  estimatedNanoUsd: '0',
  limitNanoUsd: '5000000000',
  disabledProviders: [],
  updatedAt: '2026-10-20T11:59:00.000Z',
};

/** An alert as a query might return it, with a field the answer's schema does not name. */
const LOGGED_ALERT = {
  alertId: 'threshold:2026-10:acme:limit_80',
  type: 'spend_threshold',
  severity: 'warning',
  message: 'reached 80%',
  details: { threshold: 'limit_80' },
  createdAt: '2026-10-11T00:00:00.000Z',
  delivery: null,
  webhookUrl: 'https://hooks.acme.example/private',
};

/** One priced request of the largest cost the ledger holds. */
const LARGEST = { requests: 1, inputTokens: 10, outputTokens: 5, costNanoUsd: INT64_MAX };

let versions = 0;
/** What the fakes answer; a test replaces a member to make it fail. */
const queries: OrgQueries = {
  usageSeries: async () => ({
    series: [{ key: 'alice', points: [{ t: '2026-10-05T00:00:00.000Z', ...LARGEST }] }],
    totals: LARGEST,
  }),
  usageVersions: async (orgs) => new Map(orgs.map((org) => [org, String(++versions)])),
  monthToDateGross: async () => BigInt(INT64_MAX),
  recentAlerts: async () => [LOGGED_ALERT],
};

const fakes = {
  queries,
  published: [] as unknown[],
  publish: async (messages: unknown[]) => {
    fakes.published.push(...messages);
  },
  rows: async (): Promise<AsyncIterable<string[]>> => ({
    async *[Symbol.asyncIterator]() {
      yield ['{"total":"9223372036854775807"}'];
    },
  }),
};

describe('the HTTP API through app.inject() (fakes behind the routes)', () => {
  let app: Awaited<ReturnType<typeof buildApiServer>>;

  beforeAll(async () => {
    const history = new AccountHistory();
    // A hub snapshot may carry fields of its own (the contract keeps them): never shown.
    history.add(
      { ...org('acme', { spendingLimitNanoUsd: INT64_MAX }), hubNote: 'internal' },
      'hub',
    );
    history.add(org('globex', { members: ['carol'] }), 'hub');
    app = await buildApiServer({
      logger: quietLogger(),
      queries: {
        usageSeries: (options) => fakes.queries.usageSeries(options),
        usageVersions: (orgs) => fakes.queries.usageVersions(orgs),
        monthToDateGross: (org, month) => fakes.queries.monthToDateGross(org, month),
        recentAlerts: (org, limit) => fakes.queries.recentAlerts(org, limit),
      },
      financeSql: { rows: () => fakes.rows() },
      statuses: {
        ...NO_STATUSES,
        // With a field the answer's schema does not name.
        get: (id) =>
          id === 'acme' ? ({ ...STATUS, internalNote: 'x' } as AccountStatus) : undefined,
      },
      facts: { history, refresh: async () => [] },
      tokens: { verify: async (token) => PRINCIPALS[token] },
      webhookSecrets: {
        ensure: async () => ({ secret: 'nbwhsec_new', created: true }),
        rotate: async () => ({ secret: 'nbwhsec_rotated', previousValidUntil: null }),
      },
      providers: ['groq', 'together'],
      publishSettings: (messages) => fakes.publish(messages),
      now: () => NOW,
      // Tests replace the fakes' answers: no answer is kept from one test for another.
      usageCache: { maxEntries: 0 },
    });
  });

  afterAll(async () => {
    await app?.close();
  });

  function call(method: 'GET' | 'PUT' | 'POST', url: string, token?: string, body?: unknown) {
    return app.inject({
      method,
      url,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
  }

  it('describes a 2xx answer of every /v1 route in /docs/json', async () => {
    const response = await call('GET', '/docs/json');
    expect(response.statusCode).toBe(200);
    const spec = response.json() as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    const operations = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
      );
    expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'get /v1/accounts/{id}/status',
      'get /v1/orgs/{org}/alerts',
      'get /v1/orgs/{org}/spend',
      'get /v1/orgs/{org}/usage',
      'post /v1/finance/query',
      'post /v1/orgs/{org}/webhook-secret',
      'put /v1/orgs/{org}/settings',
    ]);
    const undescribed = operations
      .filter(({ operation }) => {
        const ok = Object.entries(operation.responses ?? {}).find(([code]) => /^2/.test(code));
        const schema = (ok?.[1] as { content?: Record<string, { schema?: unknown }> } | undefined)
          ?.content?.['application/json']?.schema;
        return schema === undefined;
      })
      .map((o) => `${o.method} ${o.path}`);
    expect(undescribed).toEqual([]);
    // The error answers are described too.
    for (const { operation } of operations) {
      expect(Object.keys(operation.responses ?? {})).toEqual(
        expect.arrayContaining(['400', '401', '429', '500']),
      );
    }
  });

  it("serves the dashboard's modules, every one app.js imports, as JavaScript under a strict CSP", async () => {
    const page = await call('GET', '/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script type="module" src="/app.js"></script>');
    const seen = new Set<string>();
    const pending = ['/app.js'];
    for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
      if (seen.has(path)) continue;
      seen.add(path);
      const module = await call('GET', path);
      expect(module.statusCode, path).toBe(200);
      expect(module.headers['content-type'], path).toMatch(/^(text|application)\/javascript/);
      expect(module.body.startsWith('// @ts-check'), path).toBe(true);
      for (const [, imported] of module.body.matchAll(/ from '\.\/([\w-]+\.js)';$/gm)) {
        pending.push(`/${imported}`);
      }
    }
    expect([...seen].sort()).toEqual([
      '/alerts.js',
      '/api.js',
      '/app.js',
      '/dom.js',
      '/format.js',
      '/loading.js',
      '/money.js',
      '/settings-form.js',
      '/settings.js',
      '/spend-meter.js',
      '/spend.js',
      '/state.js',
      '/storage.js',
      '/usage-view.js',
      '/usage.js',
    ]);
  });

  describe('auth', () => {
    it('answers 401 with WWW-Authenticate to a request without a valid token', async () => {
      for (const token of [undefined, 'unknown-token']) {
        const response = await call('GET', '/v1/orgs/acme/spend', token);
        expect(response.statusCode, String(token)).toBe(401);
        expect(response.headers['www-authenticate']).toBe('Bearer');
        expect(response.json()).toEqual({ error: 'a valid bearer token is required' });
      }
    });

    it("answers 404 to another org's routes and to a token of another kind", async () => {
      for (const [method, url, token, body] of [
        ['GET', '/v1/orgs/globex/usage', 'acme-token', undefined],
        ['GET', '/v1/orgs/globex/spend', 'acme-token', undefined],
        ['GET', '/v1/orgs/globex/alerts', 'acme-token', undefined],
        ['PUT', '/v1/orgs/globex/settings', 'acme-token', { spendingLimitNanoUsd: '1' }],
        ['POST', '/v1/orgs/globex/webhook-secret', 'acme-token', {}],
        ['GET', '/v1/accounts/globex/status', 'acme-token', undefined],
        ['GET', '/v1/orgs/acme/spend', 'router-token', undefined],
        ['GET', '/v1/orgs/acme/spend', 'finance-token', undefined],
      ] as const) {
        const response = await call(method, url, token, body);
        expect(response.statusCode, `${method} ${url} (${token})`).toBe(404);
        expect(response.json(), url).not.toHaveProperty('secret');
      }
    });

    it('answers 403 to a finance route asked with another kind of token', async () => {
      for (const token of ['acme-token', 'router-token']) {
        const response = await call('POST', '/v1/finance/query', token, { sql: 'SELECT 1' });
        expect(response.statusCode, token).toBe(403);
        expect(response.json()).toEqual({ error: 'this route needs a finance token' });
      }
    });
  });

  it('answers 400 naming the field of bad parameters and bodies', async () => {
    for (const [method, url, token, body, field] of [
      ['GET', '/v1/orgs/acme/usage?granularity=week', 'acme-token', undefined, 'granularity'],
      ['GET', '/v1/orgs/acme/usage?from=yesterday', 'acme-token', undefined, 'from'],
      ['GET', '/v1/orgs/acme/usage?groupBy=team', 'acme-token', undefined, 'groupBy'],
      [
        'GET',
        '/v1/orgs/acme/usage?from=2026-10-01T00:30:00Z&to=2026-10-02T00:00:00Z',
        'acme-token',
        undefined,
        'from',
      ],
      [
        'GET',
        '/v1/orgs/acme/usage?from=2026-10-02T00:00:00Z&to=2026-10-01T00:00:00Z',
        'acme-token',
        undefined,
        'from',
      ],
      [
        'GET',
        '/v1/orgs/acme/usage?from=2026-01-01T00:00:00Z&to=2026-10-01T00:00:00Z&granularity=hour',
        'acme-token',
        undefined,
        'to',
      ],
      ['GET', '/v1/orgs/acme/alerts?limit=0', 'acme-token', undefined, 'limit'],
      ['GET', `/v1/accounts/${'x'.repeat(300)}/status`, 'router-token', undefined, 'id'],
      [
        'PUT',
        '/v1/orgs/acme/settings',
        'acme-token',
        { spendingLimitNanoUsd: 5 },
        'spendingLimitNanoUsd',
      ],
      ['PUT', '/v1/orgs/acme/settings', 'acme-token', { seats: 3 }, 'seats'],
      [
        'PUT',
        '/v1/orgs/acme/settings',
        'acme-token',
        { disabledProviders: ['nope'] },
        'disabledProviders.0',
      ],
      ['POST', '/v1/orgs/acme/webhook-secret', 'acme-token', { overlapHours: -1 }, 'overlapHours'],
      ['POST', '/v1/finance/query', 'finance-token', { sql: '' }, 'sql'],
    ] as const) {
      const response = await call(method, url, token, body);
      expect(response.statusCode, url).toBe(400);
      expect(response.json(), url).toEqual({ error: expect.stringMatching(/.+/), field });
    }
  });

  describe('error mapping', () => {
    const failures = [
      [
        'a ClickHouse error in a query',
        () => {
          const saved = fakes.queries.usageSeries;
          fakes.queries.usageSeries = async () => {
            throw new ClickHouseError({ message: SECRET_DETAIL, code: '241', type: 'MEMORY' });
          };
          return () => (fakes.queries.usageSeries = saved);
        },
        ['GET', '/v1/orgs/acme/usage', undefined],
      ],
      [
        'a Kafka error while publishing settings',
        () => {
          const saved = fakes.publish;
          fakes.publish = async () => {
            throw new KafkaJSError(SECRET_DETAIL, { retriable: false });
          };
          return () => (fakes.publish = saved);
        },
        ['PUT', '/v1/orgs/acme/settings', { spendingLimitNanoUsd: '1' }],
      ],
      [
        'a failure to reach ClickHouse for finance SQL',
        () => {
          const saved = fakes.rows;
          fakes.rows = async () => {
            throw new Error(`connect ECONNREFUSED: ${SECRET_DETAIL}`);
          };
          return () => (fakes.rows = saved);
        },
        ['POST', '/v1/finance/query', { sql: 'SELECT 1' }],
      ],
    ] as const;

    it.each(failures)(
      'answers 500 "internal error" to %s, nothing of it leaked',
      async (_, fail, [method, url, body]) => {
        const restore = fail();
        try {
          const token = url.startsWith('/v1/finance') ? 'finance-token' : 'acme-token';
          const response = await call(method, url, token, body);
          expect(response.statusCode).toBe(500);
          expect(response.json()).toEqual({ error: 'internal error' });
          expect(response.body).not.toContain('hunter2');
        } finally {
          restore();
        }
      },
    );
  });

  describe('answers carry exactly their schema', () => {
    it('keeps nano-USD amounts exact as decimal strings, up to 2^63 − 1', async () => {
      const spend = await call('GET', '/v1/orgs/acme/spend', 'acme-token');
      expect(spend.statusCode).toBe(200);
      expect(spend.body).toContain(`"grossNanoUsd":"${INT64_MAX}"`);
      expect(spend.json()).toMatchObject({
        grossNanoUsd: INT64_MAX,
        limitNanoUsd: INT64_MAX,
        creditsGrantedNanoUsd: '4000000000',
        status: { status: 'blocked', spendNanoUsd: INT64_MAX },
      });
      const usage = await call('GET', '/v1/orgs/acme/usage', 'acme-token');
      expect(usage.statusCode).toBe(200);
      expect(usage.json().totals.costNanoUsd).toBe(INT64_MAX);
      expect(usage.json().series[0].points[0].costNanoUsd).toBe(INT64_MAX);
      const finance = await call('POST', '/v1/finance/query', 'finance-token', { sql: 'SELECT 1' });
      expect(finance.statusCode).toBe(200);
      expect(finance.body).toBe(`{"rows":[{"total":"${INT64_MAX}"}],"rowCount":1}`);
    });

    it('drops fields the schema does not name', async () => {
      const status = await call('GET', '/v1/accounts/acme/status', 'router-token');
      expect(status.statusCode).toBe(200);
      expect(status.json()).toEqual(STATUS);
      const alerts = await call('GET', '/v1/orgs/acme/alerts', 'acme-token');
      expect(alerts.statusCode).toBe(200);
      expect(alerts.json().alerts).toHaveLength(1);
      expect(alerts.body).not.toContain('webhookUrl');
      const { webhookUrl: _, ...shown } = LOGGED_ALERT;
      expect(alerts.json().alerts[0]).toEqual(shown);
    });

    it('shows a first webhook secret once, with the snapshot readers will see', async () => {
      const response = await call('PUT', '/v1/orgs/acme/settings', 'acme-token', {
        alertWebhookUrl: 'https://hooks.acme.example/n',
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        snapshot: expect.objectContaining({
          accountId: 'acme',
          alertWebhookUrl: 'https://hooks.acme.example/n',
          spendingLimitNanoUsd: INT64_MAX,
        }),
        webhookSecret: 'nbwhsec_new',
      });
      expect(response.body).not.toContain('hubNote');
      const rotated = await call('POST', '/v1/orgs/acme/webhook-secret', 'acme-token', {});
      expect(rotated.json()).toEqual({ secret: 'nbwhsec_rotated', previousValidUntil: null });
    });
  });
});
