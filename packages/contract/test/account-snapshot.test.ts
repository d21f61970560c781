import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AccountSnapshot,
  MAX_ACCOUNT_SNAPSHOT_BYTES,
  TOPICS,
  decodeAccountSnapshot,
  spendingLimitOf,
} from '../src/index.js';

const user = {
  schemaVersion: 1,
  accountId: 'alice',
  kind: 'user',
  plan: 'pro',
  effectiveAt: '2026-11-01T00:00:00Z',
};
const org = {
  schemaVersion: 1,
  accountId: 'acme',
  kind: 'org',
  plan: 'enterprise',
  effectiveAt: '2026-11-01T00:00:00.000Z',
  seats: 3,
  members: ['alice', 'bob'],
  spendingLimitNanoUsd: '50000000000',
  disabledProviders: ['replicate'],
  alertWebhookUrl: 'https://hooks.acme.example/billing',
};
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('AccountSnapshot v1', () => {
  it('is published on billing.accounts.v1, bad ones to billing.accounts.dlq.v1', () => {
    expect(TOPICS.accounts).toBe('billing.accounts.v1');
    expect(TOPICS.accountsDlq).toBe('billing.accounts.dlq.v1');
  });

  it.each([
    ['a PRO user', user],
    ['a free user with a webhook', { ...user, plan: 'free', alertWebhookUrl: 'https://u.example' }],
    ['an enterprise org with every field', org],
    [
      'a free org with the minimum',
      { ...org, plan: 'free', seats: 1, members: [], spendingLimitNanoUsd: undefined },
    ],
    ['a team org with a numeric limit', { ...org, plan: 'team', spendingLimitNanoUsd: 0 }],
    [
      'the largest limit',
      { ...org, spendingLimitNanoUsd: '9223372036854775807', alertWebhookUrl: undefined },
    ],
  ])('accepts %s', (_name, snapshot) => {
    const decoded = decodeAccountSnapshot(bytes(snapshot));
    expect(decoded).toEqual({ ok: true, value: JSON.parse(JSON.stringify(snapshot)) });
  });

  it('keeps unknown extra fields', () => {
    expect(decodeAccountSnapshot(bytes({ ...org, region: 'eu' }))).toEqual({
      ok: true,
      value: { ...org, region: 'eu' },
    });
  });

  it.each([
    ['empty', null, 'empty', 'no value'],
    [
      'oversized',
      Buffer.alloc(MAX_ACCOUNT_SNAPSHOT_BYTES + 1, 32),
      'oversized',
      String(MAX_ACCOUNT_SNAPSHOT_BYTES),
    ],
    ['not JSON', Buffer.from('{"kind":'), 'not_json', 'not JSON'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'not_json', 'not JSON'],
    ['an array', bytes([org]), 'schema_violation', '(snapshot)'],
    ['schema version 2', bytes({ ...org, schemaVersion: 2 }), 'schema_violation', 'schemaVersion'],
    ['no accountId', bytes({ ...org, accountId: undefined }), 'schema_violation', 'accountId'],
    ['an empty accountId', bytes({ ...user, accountId: '' }), 'schema_violation', 'accountId'],
    ['no kind', bytes({ ...org, kind: undefined }), 'schema_violation', 'kind must be'],
    ['an unknown kind', bytes({ ...org, kind: 'team' }), 'schema_violation', 'kind must be'],
    [
      'a user on a team plan',
      bytes({ ...user, plan: 'team' }),
      'schema_violation',
      "plan: a user's plan is one of free, pro",
    ],
    [
      'an org on a PRO plan',
      bytes({ ...org, plan: 'pro' }),
      'schema_violation',
      "plan: an org's plan is one of free, team, enterprise",
    ],
    [
      'a local-time effectiveAt',
      bytes({ ...org, effectiveAt: '2026-11-01T01:00:00+01:00' }),
      'schema_violation',
      'effectiveAt',
    ],
    [
      'a date without time',
      bytes({ ...org, effectiveAt: '2026-11-01' }),
      'schema_violation',
      'effectiveAt',
    ],
    ['an org without seats', bytes({ ...org, seats: undefined }), 'schema_violation', 'seats'],
    ['an org with 0 seats', bytes({ ...org, seats: 0 }), 'schema_violation', 'seats'],
    ['fractional seats', bytes({ ...org, seats: 1.5 }), 'schema_violation', 'seats'],
    [
      'an org without members',
      bytes({ ...org, members: undefined }),
      'schema_violation',
      'members',
    ],
    [
      'a repeated member',
      bytes({ ...org, members: ['alice', 'bob', 'alice'] }),
      'schema_violation',
      'members.2: "alice" is listed twice',
    ],
    ['an empty member id', bytes({ ...org, members: [''] }), 'schema_violation', 'members.0'],
    [
      'a user with seats',
      bytes({ ...user, seats: 2 }),
      'schema_violation',
      'seats: only org snapshots carry seats',
    ],
    [
      'a user with members',
      bytes({ ...user, members: [] }),
      'schema_violation',
      'members: only org snapshots',
    ],
    [
      'a user with a spending limit',
      bytes({ ...user, spendingLimitNanoUsd: 5 }),
      'schema_violation',
      'spendingLimitNanoUsd: only org snapshots',
    ],
    [
      'a user with disabled providers',
      bytes({ ...user, disabledProviders: [] }),
      'schema_violation',
      'disabledProviders: only org snapshots',
    ],
    [
      'a negative limit',
      bytes({ ...org, spendingLimitNanoUsd: -1 }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'a fractional limit',
      bytes({ ...org, spendingLimitNanoUsd: 1.5 }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'an unsafe integer limit',
      bytes({ ...org, spendingLimitNanoUsd: 2 ** 60 }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'a limit above 2^63 - 1',
      bytes({ ...org, spendingLimitNanoUsd: '9223372036854775808' }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'a limit string that is not digits',
      bytes({ ...org, spendingLimitNanoUsd: '1e9' }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'a limit with leading zeros',
      bytes({ ...org, spendingLimitNanoUsd: '007' }),
      'schema_violation',
      'spendingLimitNanoUsd',
    ],
    [
      'an http webhook',
      bytes({ ...org, alertWebhookUrl: 'http://hooks.acme.example' }),
      'schema_violation',
      'alertWebhookUrl: must be an https URL',
    ],
    [
      'a webhook that is not a URL',
      bytes({ ...user, alertWebhookUrl: 'hooks.acme.example' }),
      'schema_violation',
      'alertWebhookUrl',
    ],
    [
      'a malformed https webhook',
      bytes({ ...org, alertWebhookUrl: 'https:/hooks.acme.example' }),
      'schema_violation',
      'alertWebhookUrl',
    ],
    [
      'a disabled provider that is not a string',
      bytes({ ...org, disabledProviders: [3] }),
      'schema_violation',
      'disabledProviders.0',
    ],
  ])('rejects %s with a reason that names the field', (_name, input, code, mention) => {
    const decoded = decodeAccountSnapshot(input);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.code).toBe(code);
    expect(decoded.reason).toContain(mention);
  });

  it('reads the spending limit as bigint, whichever JSON form carries it', () => {
    const parse = (value: unknown) => AccountSnapshot.parse(value);
    expect(spendingLimitOf(parse(org))).toBe(50_000_000_000n);
    expect(spendingLimitOf(parse({ ...org, spendingLimitNanoUsd: 0 }))).toBe(0n);
    expect(spendingLimitOf(parse({ ...org, spendingLimitNanoUsd: Number.MAX_SAFE_INTEGER }))).toBe(
      9_007_199_254_740_991n,
    );
    expect(spendingLimitOf(parse({ ...org, spendingLimitNanoUsd: '9223372036854775807' }))).toBe(
      9_223_372_036_854_775_807n,
    );
    expect(spendingLimitOf(parse({ ...org, spendingLimitNanoUsd: undefined }))).toBeUndefined();
    expect(spendingLimitOf(parse(user))).toBeUndefined();
  });

  it('accepts exactly the limits in [0, 2^63 - 1], in both JSON forms', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), (limit) => {
        const inRange = limit >= 0n && limit <= 2n ** 63n - 1n;
        const asString = AccountSnapshot.safeParse({ ...org, spendingLimitNanoUsd: `${limit}` });
        expect(asString.success).toBe(inRange);
        if (asString.success) expect(spendingLimitOf(asString.data)).toBe(limit);
        if (limit >= BigInt(Number.MIN_SAFE_INTEGER) && limit <= BigInt(Number.MAX_SAFE_INTEGER)) {
          const asNumber = AccountSnapshot.safeParse({
            ...org,
            spendingLimitNanoUsd: Number(limit),
          });
          expect(asNumber.success).toBe(inRange);
          if (asNumber.success) expect(spendingLimitOf(asNumber.data)).toBe(limit);
        }
      }),
    );
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (input) => {
        const decoded = decodeAccountSnapshot(Buffer.from(input));
        return decoded.ok
          ? AccountSnapshot.safeParse(decoded.value).success
          : decoded.reason.length > 0;
      }),
    );
  });

  it('never throws on JSON that looks almost right', () => {
    const almost = fc.record(
      {
        schemaVersion: fc.constantFrom(1, 2, '1'),
        accountId: fc.string({ maxLength: 4 }),
        kind: fc.constantFrom('user', 'org', 'x'),
        plan: fc.constantFrom('free', 'pro', 'team', 'enterprise', ''),
        effectiveAt: fc.constantFrom('2026-11-01T00:00:00Z', '2026-11-01', 'x'),
        seats: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double()),
        members: fc.array(fc.constantFrom('a', 'b', '', 3)),
        spendingLimitNanoUsd: fc.oneof(fc.string({ maxLength: 25 }), fc.integer(), fc.double()),
        alertWebhookUrl: fc.oneof(
          fc.constantFrom('https://a.example/h', 'http://a.example', 'https://'),
          fc.string(),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(almost, (value) => {
        const decoded = decodeAccountSnapshot(bytes(value));
        if (decoded.ok) expect(typeof spendingLimitOf(decoded.value)).not.toBe('number');
        else expect(decoded.reason).toMatch(/^[^:]+: /);
      }),
    );
  });
});
