import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FREE_USER_GRANT, PRO_USER_GRANT } from '@nanobill/credits';
import {
  STATUSES,
  accountStatus,
  statusChanged,
  statusRank,
  type AccountStatusInput,
} from '../src/index.js';
import { usd } from './helpers.js';

const team = (limit: bigint | undefined, spend: bigint): AccountStatusInput => ({
  kind: 'org',
  plan: 'team',
  grant: usd('4.00'),
  limit,
  spend,
});
const freeUser = (spend: bigint): AccountStatusInput => ({
  kind: 'user',
  plan: 'free',
  grant: FREE_USER_GRANT,
  spend,
});

describe('accountStatus: the issue cases', () => {
  it('an org with a $1.00 limit: ok, warning at $0.80, blocked at $1.00, ok once raised', () => {
    const limit = usd('1.00');
    expect(accountStatus(team(limit, usd('0.50')))).toMatchObject({
      status: 'ok',
      basis: 'spending_limit',
      limit,
    });
    expect(accountStatus(team(limit, usd('0.799999999'))).status).toBe('ok');
    const warning = accountStatus(team(limit, usd('0.80')));
    expect(warning).toMatchObject({ status: 'warning', basis: 'spending_limit', limit });
    expect(warning.reason).toBe(
      'warning: month-to-date spend $0.80 is at least 80% of the spending limit of $1.00 ($0.20 left)',
    );
    expect(accountStatus(team(limit, usd('0.999999999'))).status).toBe('warning');
    const blocked = accountStatus(team(limit, usd('1.00')));
    expect(blocked).toEqual({
      status: 'blocked',
      reason: 'blocked: month-to-date spend $1.00 has reached the spending limit of $1.00',
      spend: usd('1.00'),
      limit,
      basis: 'spending_limit',
      disabledProviders: [],
    });
    // The admin raises the limit: the block lifts at once.
    expect(accountStatus(team(usd('5.00'), usd('1.00')))).toMatchObject({
      status: 'ok',
      limit: usd('5.00'),
    });
  });

  it('a free user crossing $0.10 is blocked; next month (spend 0) ok again', () => {
    expect(accountStatus(freeUser(usd('0.05')))).toMatchObject({
      status: 'ok',
      basis: 'credits',
      limit: FREE_USER_GRANT,
    });
    expect(accountStatus(freeUser(usd('0.08'))).status).toBe('warning');
    const blocked = accountStatus(freeUser(usd('0.100000001')));
    expect(blocked.status).toBe('blocked');
    expect(blocked.reason).toBe(
      "blocked: month-to-date spend $0.100000001 has reached the month's credits of $0.10",
    );
    expect(accountStatus(freeUser(usd('0.10'))).status).toBe('blocked');
    expect(accountStatus(freeUser(0n))).toMatchObject({ status: 'ok', basis: 'credits' });
  });

  it('a PRO user is never blocked, whatever the spend', () => {
    for (const spend of [0n, PRO_USER_GRANT, usd('1000000')]) {
      const status = accountStatus({ kind: 'user', plan: 'pro', grant: PRO_USER_GRANT, spend });
      expect(status).toMatchObject({ status: 'ok', basis: 'none', spend });
      expect(status).not.toHaveProperty('limit');
    }
  });

  it('orgs without a limit are ok, free orgs included', () => {
    expect(accountStatus(team(undefined, usd('999')))).toMatchObject({
      status: 'ok',
      basis: 'none',
    });
    const freeOrg = accountStatus({ kind: 'org', plan: 'free', grant: 0n, spend: usd('3') });
    expect(freeOrg).toMatchObject({ status: 'ok', basis: 'none' });
    expect(freeOrg.reason).toMatch(/never billed/);
    // A limit set on a free org is honoured.
    expect(
      accountStatus({ kind: 'org', plan: 'free', grant: 0n, limit: usd('1'), spend: usd('1') })
        .status,
    ).toBe('blocked');
  });

  it('a limit of 0 blocks at once', () => {
    expect(accountStatus(team(0n, 0n)).status).toBe('blocked');
    expect(accountStatus({ ...freeUser(0n), grant: 0n }).status).toBe('blocked');
  });

  it('the limit applies to gross spend: credits are not deducted first', () => {
    // A $4.00 grant does not keep a $1.00 limit from blocking at $1.00.
    expect(accountStatus(team(usd('1.00'), usd('1.00'))).status).toBe('blocked');
  });

  it('carries the disabled providers, sorted and without duplicates', () => {
    const status = accountStatus({
      ...team(undefined, 0n),
      disabledProviders: ['together', 'fal-ai', 'together'],
    });
    expect(status.disabledProviders).toEqual(['fal-ai', 'together']);
  });

  it('rejects bad input', () => {
    expect(() => accountStatus({ ...freeUser(0n), plan: 'team' })).toThrow(/user plan/);
    expect(() => accountStatus({ ...team(undefined, 0n), plan: 'pro' })).toThrow(/org plan/);
    expect(() => accountStatus({ ...freeUser(0n), limit: usd('1') })).toThrow(/only orgs/);
    expect(() => accountStatus({ ...freeUser(0n), disabledProviders: ['x'] })).toThrow(/only orgs/);
    expect(() => accountStatus(freeUser(-1n))).toThrow(/spend/);
    expect(() => accountStatus(team(-1n, 0n))).toThrow(/limit/);
    expect(() => accountStatus(freeUser(1 as unknown as bigint))).toThrow(TypeError);
    expect(() => accountStatus({ ...freeUser(0n), kind: 'bot' as unknown as 'user' })).toThrow(
      /kind/,
    );
  });
});

describe('statusChanged', () => {
  it('ignores spend alone, sees status, limit and provider changes', () => {
    const a = accountStatus(team(usd('1'), usd('0.10')));
    expect(statusChanged(undefined, a)).toBe(true);
    expect(statusChanged(a, accountStatus(team(usd('1'), usd('0.20'))))).toBe(false);
    expect(statusChanged(a, accountStatus(team(usd('1'), usd('0.90'))))).toBe(true);
    expect(statusChanged(a, accountStatus(team(usd('2'), usd('0.10'))))).toBe(true);
    expect(
      statusChanged(a, accountStatus({ ...team(usd('1'), usd('0.10')), disabledProviders: ['x'] })),
    ).toBe(true);
  });
});

describe('accountStatus: properties', () => {
  const amount = fc.bigInt({ min: 0n, max: 10n ** 15n });

  it('is monotone in spend for a fixed limit or grant', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant('org' as const), fc.constant('user' as const)),
        amount,
        fc.array(amount, { minLength: 2, maxLength: 20 }),
        (kind, limit, spends) => {
          const ranks = spends
            .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            .map((spend) =>
              statusRank(
                accountStatus(
                  kind === 'org'
                    ? { kind, plan: 'enterprise', grant: 0n, limit, spend }
                    : { kind, plan: 'free', grant: limit, spend },
                ).status,
              ),
            );
          for (let i = 1; i < ranks.length; i++) {
            expect(ranks[i]).toBeGreaterThanOrEqual(ranks[i - 1] ?? 0);
          }
        },
      ),
    );
  });

  it('matches the exact thresholds: blocked ⇔ spend ≥ limit, warning ⇔ 80 % ≤ spend < limit', () => {
    fc.assert(
      fc.property(amount, amount, (limit, spend) => {
        const { status } = accountStatus(team(limit, spend));
        const expected =
          spend >= limit ? 'blocked' : spend * 100n >= 80n * limit ? 'warning' : 'ok';
        expect(status).toBe(expected);
        expect(STATUSES).toContain(status);
      }),
    );
  });

  it('never blocks a PRO user or an org without a limit', () => {
    fc.assert(
      fc.property(amount, amount, (grant, spend) => {
        expect(accountStatus({ kind: 'user', plan: 'pro', grant, spend }).status).toBe('ok');
        expect(accountStatus(team(undefined, spend)).status).toBe('ok');
      }),
    );
  });
});
