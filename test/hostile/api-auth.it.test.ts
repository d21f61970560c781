import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { openFinanceSql, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  createToken,
  MAX_TOKEN_LOOKUPS_IN_FLIGHT,
  startApiServer,
  TokenStore,
  UnknownTokenId,
  type ApiServerOptions,
  type CreatedToken,
  NO_STATUSES,
} from '@nanobill/api';
import { quietLogger, testClickHouse, waitFor, testWebhookSecrets } from '@nanobill/testkit';

// Attacks on the API's authentication, rate limits and tokens, against the real API server and
// embedded ClickHouse (chdb).
//
// How ClickHouse lookups are counted: the TokenStore under test is given the real client wrapped
// in a Proxy whose `query` counts (and can hold back) every query that reads
// `billing.api_tokens`, then passes it on unchanged. Only the TokenStore uses that wrapper, so
// the count is exactly the token lookups the API made.

/** A token of the right shape whose id and secret are random: almost surely unknown. */
const forged = (tokenId = randomBytes(6).toString('hex')) =>
  `nbk_${tokenId}_${randomBytes(32).toString('base64url')}`;

/** The status route: 404 (no status) once authenticated, 401 or 429 otherwise. */
const STATUS = '/v1/accounts/acme/status';
const AUTHENTICATED = 404;

class LookupCounter {
  count = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  constructor(private readonly client: ClickHouseClient) {}

  /** The client as the TokenStore sees it. */
  get wrapped(): ClickHouseClient {
    return new Proxy(this.client, {
      get: (target, key, receiver) => {
        if (key !== 'query') return Reflect.get(target, key, receiver) as unknown;
        return async (params: Parameters<ClickHouseClient['query']>[0]) => {
          if (params.query.includes('billing.api_tokens')) {
            this.count++;
            await this.gate;
          }
          return target.query(params);
        };
      },
    });
  }

  /** Holds every lookup until `release`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }
}

describe('hostile: API authentication, rate limits and tokens (real server, real ClickHouse)', () => {
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let router: CreatedToken;
  let acme: CreatedToken;
  const servers: Array<{ close(): Promise<void> }> = [];

  /** An API server (one "host"), with its own TokenStore over a counting client. */
  async function serve(
    options: Partial<ApiServerOptions> & { store?: (client: ClickHouseClient) => TokenStore } = {},
  ) {
    const lookups = new LookupCounter(ch.client);
    const { store, ...overrides } = options;
    const server = await startApiServer({
      port: 0,
      logger: quietLogger(),
      clickhouse: ch.client,
      financeSql: openFinanceSql({ dataDir: ch.dataDir }),
      statuses: NO_STATUSES,
      facts: new AccountFactsReader(ch.client, new AccountHistory()),
      tokens: store ? store(lookups.wrapped) : new TokenStore(lookups.wrapped),
      webhookSecrets: testWebhookSecrets(ch.client),
      providers: [],
      publishSettings: async () => undefined,
      ...overrides,
    });
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const call = async (token: string | undefined, headers: Record<string, string> = {}) =>
      (
        await fetch(`${base}${STATUS}`, {
          headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        })
      ).status;
    return { base, call, lookups };
  }

  beforeAll(async () => {
    ch = await testClickHouse();
    router = await createToken(ch.client, { kind: 'router' });
    acme = await createToken(ch.client, { kind: 'org', org: 'acme' });
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await server.close();
    await ch?.client.close();
  });

  it('limits a flood of random forged token ids per address, and looks up at most the allowed ones', async () => {
    const { call, lookups } = await serve({ rateLimit: { perAddress: 20, perToken: 1_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push(await call(forged()));
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(180).fill(429));
    // 20 allowed requests, 20 lookups; the 180 refused ones never reached ClickHouse.
    expect(lookups.count).toBe(20);
    // Unauthenticated requests count too: no token at all, and a valid token, are refused now.
    expect(await call(undefined)).toBe(429);
    expect(await call(acme.token)).toBe(429);
  });

  it('looks up a repeated id once (unknown ids are remembered), and a token once for concurrent requests', async () => {
    const { call, lookups } = await serve({ rateLimit: { perAddress: 1_000, perToken: 1_000 } });
    const same = forged();
    for (let i = 0; i < 50; i++) expect(await call(same)).toBe(401);
    expect(lookups.count).toBe(1);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call(acme.token)));
    expect(statuses).toEqual(Array(20).fill(AUTHENTICATED));
    expect(lookups.count).toBe(2);
  });

  it('ignores X-Forwarded-For unless the proxy is trusted: a client cannot pick its own address', async () => {
    const direct = await serve({ rateLimit: { perAddress: 5, perToken: 1_000 } });
    const statuses = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(await direct.call(forged(), { 'x-forwarded-for': `203.0.113.${i}` }));
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  });

  it("someone who knows the router token's id cannot make the router's requests 429", async () => {
    // Behind a trusted proxy (127.0.0.1) that names each client in X-Forwarded-For.
    const { call, lookups } = await serve({
      trustProxy: ['127.0.0.1'],
      rateLimit: { perAddress: 30, perToken: 10 },
    });
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    const routerHost = { 'x-forwarded-for': '198.51.100.7' };
    const attack: number[] = [];
    for (let i = 0; i < 100; i++) attack.push(await call(forged(router.tokenId), attacker));
    expect(attack.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(attack.slice(30)).toEqual(Array(70).fill(429));
    // The router's own budget (10 a window) is intact, and its address is another budget.
    const own: number[] = [];
    for (let i = 0; i < 10; i++) own.push(await call(router.token, routerHost));
    expect(own).toEqual(Array(10).fill(AUTHENTICATED));
    expect(await call(router.token, routerHost)).toBe(429); // its own 11th request
    // The router's row was read once: wrong secrets are refused against the cached hash.
    expect(lookups.count).toBe(1);
  });

  it(`refuses with 503 past ${MAX_TOKEN_LOOKUPS_IN_FLIGHT} lookups in flight (a flood from many addresses), without querying more`, async () => {
    const { call, lookups } = await serve({
      trustProxy: ['127.0.0.1'],
      rateLimit: { perAddress: 1_000, perToken: 1_000 },
    });
    lookups.hold();
    const held = Array.from({ length: MAX_TOKEN_LOOKUPS_IN_FLIGHT }, (_, i) =>
      call(forged(), { 'x-forwarded-for': `10.9.${Math.floor(i / 250)}.${i % 250}` }),
    );
    await waitFor('the lookups in flight', async () =>
      lookups.count === MAX_TOKEN_LOOKUPS_IN_FLIGHT ? true : undefined,
    );
    expect(await call(forged(), { 'x-forwarded-for': '10.10.0.1' })).toBe(503);
    expect(await call(acme.token, { 'x-forwarded-for': '10.10.0.2' })).toBe(503);
    expect(lookups.count).toBe(MAX_TOKEN_LOOKUPS_IN_FLIGHT);
    lookups.release();
    expect(await Promise.all(held)).toEqual(Array(MAX_TOKEN_LOOKUPS_IN_FLIGHT).fill(401));
    expect(await call(acme.token, { 'x-forwarded-for': '10.10.0.2' })).toBe(AUTHENTICATED);
  });

  it.each([
    ['behind', -24 * 3_600_000],
    ['ahead', 365 * 24 * 3_600_000],
  ])(
    "a revoked token stops working on every host within the cache's time-to-live when the revoking host's clock is %s",
    async (_, skewMs) => {
      const ttlMs = 10_000;
      const token = await createToken(ch.client, { kind: 'org', org: 'acme' });
      // Two API hosts with their own caches and clocks (the verifying host's clock is off too).
      const clocks = { a: 1_000_000, b: 1_000_000 };
      const hostA = await serve({
        store: (client) =>
          new TokenStore(client, { cacheTtlMs: ttlMs, cacheClock: () => clocks.a }),
      });
      const hostB = await serve({
        store: (client) =>
          new TokenStore(client, {
            cacheTtlMs: ttlMs,
            cacheClock: () => clocks.b,
            now: () => new Date(Date.now() - 3_600_000),
          }),
      });
      expect(await hostA.call(token.token)).toBe(AUTHENTICATED); // now cached on A

      const skewed = new TokenStore(ch.client, { now: () => new Date(Date.now() + skewMs) });
      expect(await skewed.revoke(token.tokenId)).toEqual({ alreadyRevoked: false });

      expect(await hostB.call(token.token)).toBe(401); // not cached on B: at once
      expect(await hostA.call(token.token)).toBe(AUTHENTICATED); // A trusts its cached row …
      clocks.a += ttlMs + 1; // … for the time-to-live, no longer
      expect(await hostA.call(token.token)).toBe(401);
      // Background merges keep the revocation: it is the newest version of the row.
      await ch.client.command({ query: 'OPTIMIZE TABLE billing.api_tokens FINAL' });
      expect(await new TokenStore(ch.client).verify(token.token)).toBeUndefined();
      expect(await skewed.revoke(token.tokenId)).toEqual({ alreadyRevoked: true });
    },
  );

  it('revokes at once on the host that revokes (its cache forgets the token)', async () => {
    const token = await createToken(ch.client, { kind: 'router' });
    const store = new TokenStore(ch.client, { cacheTtlMs: 60_000 });
    expect(await store.verify(token.token)).toEqual({ kind: 'router', tokenId: token.tokenId });
    await store.revoke(token.tokenId);
    expect(await store.verify(token.token)).toBeUndefined();
  });

  it('a token created without a lifetime expires (90 days by default); no expiry only when asked', async () => {
    const created = new Date('2026-01-01T00:00:00.000Z');
    const token = await createToken(ch.client, { kind: 'org', org: 'acme', now: created });
    expect(token.expiresAt).toBe('2026-04-01T00:00:00.000Z');
    const at = (iso: string) => new TokenStore(ch.client, { now: () => new Date(iso) });
    expect(await at('2026-03-31T23:59:59.999Z').verify(token.token)).toBeDefined();
    expect(await at('2026-04-01T00:00:00.000Z').verify(token.token)).toBeUndefined();
    const forever = await createToken(ch.client, { kind: 'router', ttlMs: null, now: created });
    expect(forever.expiresAt).toBeNull();
    expect(await at('2036-01-01T00:00:00.000Z').verify(forever.token)).toBeDefined();
  });

  it('revoking an id that was never created fails', async () => {
    const store = new TokenStore(ch.client);
    await expect(store.revoke('0123456789ab')).rejects.toBeInstanceOf(UnknownTokenId);
    await expect(store.revoke("x' OR 1=1 --")).rejects.toBeInstanceOf(UnknownTokenId);
  });

  it('refuses oversized, odd and injected Authorization headers without a lookup; the scheme is case-insensitive', async () => {
    const { call, lookups } = await serve({ rateLimit: { perAddress: 1_000, perToken: 1_000 } });
    for (const header of [
      `Bearer ${acme.token}${'A'.repeat(10_000)}`,
      `Bearer ${acme.token} ${acme.token}`,
      `Bearer  ${acme.token}`,
      `Basic ${Buffer.from(`x:${acme.token}`).toString('base64')}`,
      `Bearer nbk_${acme.tokenId}_${'A'.repeat(42)}'`,
      `Bearer nbk_${acme.tokenId.toUpperCase()}_${acme.token.slice(17)}`,
      `Bearer ${acme.token.slice(0, -1)}`,
    ]) {
      // No token argument: the header is sent exactly as written.
      expect(await call(undefined, { authorization: header }), header.slice(0, 40)).toBe(401);
    }
    expect(lookups.count).toBe(0);
    expect(await call(undefined, { authorization: `bearer ${acme.token}` })).toBe(AUTHENTICATED);
  });

  it('limits bodies (413), marks answers no-store, and counts requests to unknown routes per address', async () => {
    const { base } = await serve({ rateLimit: { perAddress: 4, perToken: 1_000 } });
    const huge = await fetch(`${base}/v1/orgs/acme/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ disabledProviders: Array(5_000).fill('groq') }),
    });
    expect(huge.status).toBe(413);
    const status = await fetch(`${base}${STATUS}`, {
      headers: { authorization: `Bearer ${acme.token}` },
    });
    expect(status.headers.get('cache-control')).toBe('no-store');
    const unknown = [];
    for (let i = 0; i < 3; i++)
      unknown.push((await fetch(`${base}/nope`, { method: 'POST' })).status);
    expect(unknown).toEqual([404, 404, 429]);
  });
});
