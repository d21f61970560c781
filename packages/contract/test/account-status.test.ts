import { describe, expect, it } from 'vitest';
import { AccountStatus } from '../src/index.js';

const valid = {
  schemaVersion: 1,
  accountId: 'acme',
  kind: 'org',
  plan: 'team',
  month: '2026-11',
  status: 'blocked',
  reason: 'blocked: month-to-date spend $1.00 has reached the spending limit of $1.00',
  basis: 'spending_limit',
  spendNanoUsd: '1000000000',
  pricedNanoUsd: '250000000',
  estimatedNanoUsd: '750000000',
  limitNanoUsd: '1000000000',
  disabledProviders: ['replicate'],
  updatedAt: '2026-11-25T12:00:00.000Z',
};

describe('AccountStatus v1', () => {
  it('accepts a status as the enforcement service publishes it', () => {
    expect(AccountStatus.parse(valid)).toEqual(valid);
    const { limitNanoUsd: _omitted, ...withoutLimit } = valid;
    expect(AccountStatus.safeParse({ ...withoutLimit, basis: 'none' }).success).toBe(true);
  });

  it.each([
    ['an amount as a JSON number', { spendNanoUsd: 1_000_000_000 }, 'spendNanoUsd'],
    ['a negative amount', { pricedNanoUsd: '-1' }, 'pricedNanoUsd'],
    ['an amount past Int64', { limitNanoUsd: '9223372036854775808' }, 'limitNanoUsd'],
    ['a month that is not YYYY-MM', { month: '2026-13' }, 'month'],
    ['an unknown status', { status: 'suspended' }, 'status'],
    ['an instant with an offset', { updatedAt: '2026-11-25T12:00:00+01:00' }, 'updatedAt'],
  ])('refuses %s, naming the field', (_what, change, field) => {
    const result = AccountStatus.safeParse({ ...valid, ...change });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path).toEqual([field]);
  });
});
