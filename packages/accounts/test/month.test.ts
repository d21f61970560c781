import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AccountSnapshot } from '@nanobill/contract';
import { AccountHistory } from '@nanobill/attribution';
import { FREE_USER_GRANT, PRO_USER_GRANT, grantAt } from '@nanobill/credits';
import { monthBounds } from '@nanobill/calendar';
import { DEFAULT_FACTS, accountMonth } from '../src/index.js';

const user = (effectiveAt: string, plan: 'free' | 'pro' = 'pro'): AccountSnapshot => ({
  schemaVersion: 1,
  accountId: 'alice',
  kind: 'user',
  plan,
  effectiveAt,
});
const team = (effectiveAt: string, seats: number): AccountSnapshot => ({
  schemaVersion: 1,
  accountId: 'acme',
  kind: 'org',
  plan: 'team',
  effectiveAt,
  seats,
  members: ['alice'],
});
const historyOf = (...snapshots: AccountSnapshot[]) => {
  const history = new AccountHistory();
  for (const s of snapshots) history.add(s);
  return history;
};

describe('accountMonth before the first snapshot', () => {
  it('a user whose first snapshot is dated after the month is a free user in it', () => {
    const history = historyOf(user('2026-12-05T00:00:00Z', 'pro'));
    const november = accountMonth(history, 'alice', '2026-11', Date.parse('2026-11-20T00:00:00Z'));
    expect(november.facts).toEqual(DEFAULT_FACTS);
    expect(november.grant).toBe(FREE_USER_GRANT);
    expect(november.payAsYouGo).toBe(false);
  });

  it('a user whose first snapshot is mid-month: free before it, the largest grant counts', () => {
    const history = historyOf(user('2026-11-15T00:00:00Z', 'free'));
    const november = accountMonth(history, 'alice', '2026-11', Date.parse('2026-11-02T00:00:00Z'));
    expect(november.grant).toBe(FREE_USER_GRANT);
    const pro = historyOf(user('2026-11-15T00:00:00Z', 'pro'));
    const month = accountMonth(pro, 'alice', '2026-11', Date.parse('2026-11-02T00:00:00Z'));
    expect(month.grant).toBe(PRO_USER_GRANT);
    expect(month.payAsYouGo).toBe(true);
  });

  it('an org has no default facts: nothing is granted before its first snapshot', () => {
    const history = historyOf(team('2026-12-01T00:00:00Z', 3));
    expect(accountMonth(history, 'acme', '2026-11', Date.parse('2026-11-20T00:00:00Z')).grant).toBe(
      0n,
    );
  });

  it('property: a user never gets less than the free grant, in any month', () => {
    const { start, end } = monthBounds('2026-11');
    const instant = fc
      .integer({ min: Date.UTC(2026, 8, 1), max: Date.UTC(2027, 1, 1) })
      .map((ms) => new Date(ms).toISOString());
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ at: instant, plan: fc.constantFrom('free' as const, 'pro' as const) }),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.integer({ min: start.getTime(), max: end.getTime() - 1 }),
        (snapshots, at) => {
          const history = historyOf(...snapshots.map((s) => user(s.at, s.plan)));
          const month = accountMonth(history, 'alice', '2026-11', at);
          expect(month.grant >= grantAt(DEFAULT_FACTS)).toBe(true);
          const first = Math.min(...snapshots.map((s) => Date.parse(s.at)));
          if (first > at) expect(month.facts).toEqual(DEFAULT_FACTS);
        },
      ),
    );
  });
});
