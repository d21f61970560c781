import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DATETIME64_MAX,
  DATETIME64_MIN,
  DEFAULT_EVENT_WINDOW,
  DEFAULT_PROVIDERS,
  INT64_MAX,
  MAX_ACCOUNT_SNAPSHOT_BYTES,
  REJECTION_CODES,
  UINT16_MAX,
  UINT32_MAX,
  decodeAccountSnapshot,
  isAccountId,
  isWellFormed,
  requestEventDecoder,
  spendingLimitOf,
  type AccountSnapshot,
  type Decoded,
  type RoutedRequestEvent,
} from '../src/index.js';

// Hostile input to the decoders, as properties: whatever JSON arrives, the answer is a valid
// value whose every field fits the ClickHouse column that stores it, or a rejection with a code.

const DAY = 24 * 60 * 60 * 1000;
const SENT_AT = Date.parse('2026-11-25T12:00:00.000Z');
const UINT64_MAX = 2n ** 64n - 1n;

const validEvent = {
  schemaVersion: 1,
  requestId: 'req-1',
  timestamp: '2026-11-25T11:59:00.000Z',
  userId: 'user-1',
  billTo: 'acme',
  provider: 'hf-inference',
  model: 'openai/gpt-oss-120b',
  providerModelId: 'gpt-oss',
  task: 'conversational',
  billingMode: 'routed',
  providerRequestId: 'hf-abc',
  status: 200,
  usage: { inputTokens: 12, outputTokens: 345 },
  computeTimeMs: 10_000,
  hardware: 'nvidia-a10g',
};
const validOrg = {
  schemaVersion: 1,
  accountId: 'acme',
  kind: 'org',
  plan: 'team',
  effectiveAt: '2026-11-01T00:00:00.000Z',
  seats: 3,
  members: ['alice', 'bob'],
  spendingLimitNanoUsd: '50000000000',
  disabledProviders: ['replicate'],
  alertWebhookUrl: 'https://hooks.acme.example/billing',
};

const decode = requestEventDecoder();
const message = (value: unknown, timestamp = SENT_AT) => ({
  value: Buffer.from(JSON.stringify(value)),
  timestamp: String(timestamp),
});

/** Values a hostile sender would try in any field. */
const hostileValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    -1,
    0,
    0.5,
    1.5,
    -0,
    2 ** 31,
    2 ** 32,
    2 ** 40,
    2 ** 53,
    2 ** 63,
    2 ** 64,
    1e21,
    UINT16_MAX + 1,
    '',
    ' ',
    'a'.repeat(97),
    'a'.repeat(10_000),
    'x\u0000y',
    'x\ny',
    'x\u202Ey',
    '😀',
    'x\ud800',
    '\udfff',
    "'; DROP TABLE billing.usage; --",
    '../../etc/passwd',
    '0000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '1899-12-31T23:59:59.999Z',
    '2026-11-25T12:05:00.001Z',
    '2026-10-21T11:59:59.999Z',
    '9223372036854775808',
    '9223372036854775807',
  ),
  fc.string({ unit: 'binary' }),
);

/** A valid value with one field (possibly nested) replaced or removed. */
function mutated<T extends Record<string, unknown>>(valid: T) {
  const fields = Object.keys(valid);
  return fc
    .tuple(
      fc.constantFrom(...fields, 'usage.inputTokens', 'usage.outputTokens', 'extraField'),
      hostileValue,
      fc.boolean(),
    )
    .map(([field, value, remove]) => {
      const copy: Record<string, unknown> = structuredClone(valid);
      if (field.startsWith('usage.')) {
        const usage = { ...(copy.usage as Record<string, unknown>) };
        if (remove) delete usage[field.slice(6)];
        else usage[field.slice(6)] = value;
        copy.usage = usage;
      } else if (remove) delete copy[field];
      else copy[field] = value;
      return copy;
    });
}

function isRejection(decoded: Decoded<unknown>): boolean {
  return !decoded.ok && decoded.code in REJECTION_CODES && decoded.reason.length > 0;
}

const instantFits = (s: string) =>
  Date.parse(s) >= Date.parse(DATETIME64_MIN) && Date.parse(s) <= Date.parse(DATETIME64_MAX);
const uint64 = (n: unknown) =>
  n === undefined ||
  (Number.isSafeInteger(n) && BigInt(n as number) >= 0n && BigInt(n as number) <= UINT64_MAX);
const text = (s: unknown, max: number) =>
  typeof s === 'string' && s.length >= 1 && s.length <= max && isWellFormed(s);

/** Every field fits its `billing.usage` column, and the timestamp is inside the window. */
function eventFitsColumns(e: RoutedRequestEvent, sentAt: number): boolean {
  const t = Date.parse(e.timestamp);
  return (
    e.schemaVersion === 1 &&
    text(e.requestId, 256) &&
    instantFits(e.timestamp) &&
    t >= sentAt - DEFAULT_EVENT_WINDOW.maxAgeMs &&
    t <= sentAt + DEFAULT_EVENT_WINDOW.maxAheadMs &&
    isAccountId(e.userId) &&
    (e.billTo === undefined || text(e.billTo, 256)) &&
    (DEFAULT_PROVIDERS as readonly string[]).includes(e.provider) &&
    text(e.model, 256) &&
    (e.providerModelId === undefined || text(e.providerModelId, 256)) &&
    text(e.task, 64) &&
    (e.billingMode === 'routed' || e.billingMode === 'custom_key') &&
    (e.providerRequestId === undefined || text(e.providerRequestId, 256)) &&
    Number.isInteger(e.status) &&
    e.status >= 0 &&
    e.status <= UINT16_MAX &&
    uint64(e.usage?.inputTokens) &&
    uint64(e.usage?.outputTokens) &&
    uint64(e.computeTimeMs) &&
    (e.hardware === undefined || text(e.hardware, 64)) &&
    // Unknown fields are stored as JSON text: always well-formed once serialized.
    isWellFormed(JSON.stringify(e))
  );
}

/** Every field fits its `billing.account_snapshots` column. */
function snapshotFitsColumns(s: AccountSnapshot): boolean {
  const common =
    isAccountId(s.accountId) &&
    instantFits(s.effectiveAt) &&
    (s.alertWebhookUrl === undefined || text(s.alertWebhookUrl, 2048)) &&
    isWellFormed(JSON.stringify(s));
  if (s.kind === 'user') return common;
  const limit = spendingLimitOf(s);
  return (
    common &&
    Number.isInteger(s.seats) &&
    s.seats >= 0 &&
    s.seats <= UINT32_MAX &&
    s.members.every(isAccountId) &&
    (limit === undefined || (limit >= 0n && limit <= INT64_MAX)) &&
    (s.disabledProviders ?? []).every((p) => text(p, 64))
  );
}

describe('request event decoder: any input → an event that fits its columns, or a coded rejection', () => {
  it('any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const decoded = decode(message(value));
        return decoded.ok ? eventFitsColumns(decoded.value, SENT_AT) : isRejection(decoded);
      }),
    );
  });

  it('a valid event with one field replaced by a hostile value', () => {
    fc.assert(
      fc.property(mutated(validEvent), (value) => {
        const decoded = decode(message(value));
        return decoded.ok ? eventFitsColumns(decoded.value, SENT_AT) : isRejection(decoded);
      }),
      { numRuns: 2_000 },
    );
  });

  it('any timestamp, any Kafka time: inside the window or out_of_window / schema_violation', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        fc.oneof(
          fc.integer({ min: 0, max: 8_000_000_000_000 }),
          // Forged Kafka timestamps (a producer sets them on a CreateTime topic): never a throw.
          fc.constantFrom(8.64e15, 9e15, Number.MAX_SAFE_INTEGER),
        ),
        (at, sentAt) => {
          const decoded = decode(message({ ...validEvent, timestamp: at.toISOString() }, sentAt));
          if (decoded.ok) return eventFitsColumns(decoded.value, sentAt);
          return decoded.code === 'out_of_window' || decoded.code === 'schema_violation';
        },
      ),
    );
  });

  it('the same message gets the same answer whenever it is read (the Kafka time is the reference)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -40 * DAY, max: 40 * DAY }),
        fc.integer({ min: 0, max: 400 * DAY }),
        (offset, lateBy) => {
          const m = message({ ...validEvent, timestamp: new Date(SENT_AT + offset).toISOString() });
          const early = requestEventDecoder({ now: () => SENT_AT })(m);
          const late = requestEventDecoder({ now: () => SENT_AT + lateBy })(m);
          return early.ok === late.ok && (early.ok || (!late.ok && early.code === late.code));
        },
      ),
    );
  });

  it('window edges are inclusive; a message without a Kafka time is measured against the clock', () => {
    const at = (ms: number, timestamp = SENT_AT) =>
      decode(message({ ...validEvent, timestamp: new Date(ms).toISOString() }, timestamp));
    const { maxAgeMs, maxAheadMs } = DEFAULT_EVENT_WINDOW;
    expect(maxAgeMs).toBe(35 * DAY);
    expect(maxAheadMs).toBe(5 * 60_000);
    expect(at(SENT_AT - maxAgeMs).ok).toBe(true);
    expect(at(SENT_AT + maxAheadMs).ok).toBe(true);
    const past = at(SENT_AT - maxAgeMs - 1);
    expect(past.ok === false && past.code).toBe('out_of_window');
    expect(past.ok === false && past.reason).toContain('timestamp: ');
    const ahead = at(SENT_AT + maxAheadMs + 1);
    expect(ahead.ok === false && ahead.code).toBe('out_of_window');
    const noKafkaTime = requestEventDecoder({ now: () => SENT_AT });
    const withoutTime = { value: message(validEvent).value, timestamp: '-1' };
    expect(noKafkaTime(withoutTime).ok).toBe(true);
    expect(requestEventDecoder({ now: () => SENT_AT + 40 * DAY })(withoutTime).ok).toBe(false);
  });

  it('refuses a window it cannot represent', () => {
    expect(() => requestEventDecoder({ window: { maxAgeMs: -1, maxAheadMs: 0 } })).toThrow(
      /maxAgeMs/,
    );
    expect(() => requestEventDecoder({ window: { maxAgeMs: 0, maxAheadMs: 1e300 } })).toThrow(
      /maxAheadMs/,
    );
  });

  it('nesting: 64 levels are accepted, deeper is refused (half a million fit in 1 MiB)', () => {
    const nested = (levels: number) =>
      Buffer.from(
        `${JSON.stringify(validEvent).slice(0, -1)},"note":${'['.repeat(levels)}${']'.repeat(levels)}}`,
      );
    const at = (levels: number) => decode({ value: nested(levels), timestamp: String(SENT_AT) });
    expect(at(63).ok).toBe(true); // the event object is level 1
    const deeper = at(64);
    expect(deeper.ok === false && deeper.code).toBe('schema_violation');
    expect(deeper.ok === false && deeper.reason).toContain('deeper than 64');
    const user = {
      schemaVersion: 1,
      accountId: 'a',
      kind: 'user',
      plan: 'pro',
      effectiveAt: validOrg.effectiveAt,
    };
    const deepSnapshot = `${JSON.stringify(user).slice(0, -1)},"x":${'{"a":'.repeat(400_000)}1${'}'.repeat(400_000)}}`;
    expect(deepSnapshot.length).toBeLessThan(MAX_ACCOUNT_SNAPSHOT_BYTES * 4);
    const refused = decodeAccountSnapshot(Buffer.from(deepSnapshot), Number.POSITIVE_INFINITY);
    expect(refused.ok === false && refused.reason).toContain('deeper than 64');
  });

  it('user ids are account ids; billTo is kept as sent', () => {
    for (const userId of [
      'x\u0000y',
      'x\ny',
      'x\u202Ey',
      '😀',
      "a'b",
      '../a',
      'a b',
      'a'.repeat(97),
      '',
    ]) {
      const decoded = decode(message({ ...validEvent, userId }));
      expect(decoded.ok === false && decoded.reason, JSON.stringify(userId)).toContain('userId');
      const billed = decode(message({ ...validEvent, billTo: userId || 'x' }));
      expect(billed.ok, JSON.stringify(userId)).toBe(true);
    }
    expect(decode(message({ ...validEvent, userId: 'A'.repeat(96) })).ok).toBe(true);
    expect(decode(message({ ...validEvent, userId: 'Jane.Doe-2_x' })).ok).toBe(true);
  });
});

describe('account snapshot decoder: any input → a snapshot that fits its columns, or a coded rejection', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const decoded = decodeAccountSnapshot(bytes(value));
        return decoded.ok ? snapshotFitsColumns(decoded.value) : isRejection(decoded);
      }),
    );
  });

  it('a valid org or user with one field replaced by a hostile value', () => {
    const {
      seats: _s,
      members: _m,
      spendingLimitNanoUsd: _l,
      disabledProviders: _d,
      ...user
    } = validOrg;
    fc.assert(
      fc.property(
        fc.oneof(mutated(validOrg), mutated({ ...user, kind: 'user', plan: 'pro' })),
        (value) => {
          const decoded = decodeAccountSnapshot(bytes(value));
          return decoded.ok ? snapshotFitsColumns(decoded.value) : isRejection(decoded);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('a member list with one hostile member', () => {
    fc.assert(
      fc.property(hostileValue, (member) => {
        const decoded = decodeAccountSnapshot(bytes({ ...validOrg, members: ['alice', member] }));
        return decoded.ok ? snapshotFitsColumns(decoded.value) : isRejection(decoded);
      }),
    );
  });

  it('seats up to UInt32, limits up to Int64', () => {
    const seats = (n: number) => decodeAccountSnapshot(bytes({ ...validOrg, seats: n })).ok;
    expect(seats(UINT32_MAX)).toBe(true);
    expect(seats(UINT32_MAX + 1)).toBe(false);
    expect(seats(2 ** 40)).toBe(false);
    const limit = (l: unknown) =>
      decodeAccountSnapshot(bytes({ ...validOrg, spendingLimitNanoUsd: l })).ok;
    expect(limit('9223372036854775807')).toBe(true);
    expect(limit('9223372036854775808')).toBe(false);
    expect(limit(2 ** 63)).toBe(false);
  });
});
