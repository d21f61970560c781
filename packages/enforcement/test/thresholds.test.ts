import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FREE_USER_GRANT, PRO_USER_GRANT } from '@nanobill/credits';
import {
  CROSSING_KINDS,
  accountStatus,
  alertKey,
  describeCrossing,
  thresholdCrossings,
  thresholdsFor,
  type CrossingContext,
} from '../src/index.js';
import { usd } from './helpers.js';

const teamWithLimit: CrossingContext = {
  kind: 'org',
  plan: 'team',
  grant: usd('2.00'),
  limit: usd('1.00'),
  payAsYouGo: true,
};
const pro: CrossingContext = { kind: 'user', plan: 'pro', grant: PRO_USER_GRANT, payAsYouGo: true };
const freeUser: CrossingContext = {
  kind: 'user',
  plan: 'free',
  grant: FREE_USER_GRANT,
  payAsYouGo: false,
};

describe('thresholdCrossings', () => {
  it('crosses 50 %, 80 % and 100 % of a limit once each, in order, when spend jumps over all', () => {
    expect(thresholdCrossings(0n, usd('1.50'), teamWithLimit)).toEqual([
      { kind: 'limit_50', threshold: usd('0.50') },
      { kind: 'limit_80', threshold: usd('0.80') },
      { kind: 'limit_100', threshold: usd('1.00') },
    ]);
    // Already past them: nothing more.
    expect(thresholdCrossings(usd('1.50'), usd('1.90'), teamWithLimit)).toEqual([]);
    // The grant ($2.00) next.
    expect(thresholdCrossings(usd('1.90'), usd('2.00'), teamWithLimit)).toEqual([
      { kind: 'credits_exhausted', threshold: usd('2.00') },
    ]);
  });

  it('a threshold is crossed when before < threshold ≤ after', () => {
    expect(thresholdCrossings(0n, usd('0.499999999'), teamWithLimit)).toEqual([]);
    expect(thresholdCrossings(usd('0.499999999'), usd('0.50'), teamWithLimit)).toEqual([
      { kind: 'limit_50', threshold: usd('0.50') },
    ]);
    expect(thresholdCrossings(usd('0.50'), usd('0.60'), teamWithLimit)).toEqual([]);
  });

  it('limit percentages round up to the nano: 80 % of 7 nano is reached at 6 nano', () => {
    const context = { ...teamWithLimit, limit: 7n, grant: 0n };
    expect(thresholdsFor(context).slice(0, 3)).toEqual([
      { kind: 'limit_50', threshold: 4n },
      { kind: 'limit_80', threshold: 6n },
      { kind: 'limit_100', threshold: 7n },
    ]);
    expect(accountStatus({ ...context, spend: 5n }).status).toBe('ok');
    expect(accountStatus({ ...context, spend: 6n }).status).toBe('warning');
  });

  it('a PRO user: credits exhausted and pay-as-you-go started at the same moment', () => {
    expect(thresholdCrossings(usd('1.99'), usd('2.01'), pro)).toEqual([
      { kind: 'credits_exhausted', threshold: PRO_USER_GRANT },
      { kind: 'pay_as_you_go_started', threshold: PRO_USER_GRANT },
    ]);
  });

  it('a free user: credits exhausted at $0.10, no pay-as-you-go', () => {
    expect(thresholdCrossings(usd('0.09'), usd('0.11'), freeUser)).toEqual([
      { kind: 'credits_exhausted', threshold: FREE_USER_GRANT },
    ]);
  });

  it('a team org without a limit: credits exhausted but no pay-as-you-go crossing (users only)', () => {
    const { limit: _limit, ...context } = teamWithLimit;
    expect(thresholdCrossings(0n, usd('5'), context)).toEqual([
      { kind: 'credits_exhausted', threshold: usd('2.00') },
    ]);
  });

  it('absolute spend: $10, $100 and $1,000, all at once on a big jump', () => {
    expect(thresholdCrossings(usd('9.99'), usd('1000'), pro)).toEqual([
      { kind: 'spend_10_usd', threshold: usd('10') },
      { kind: 'spend_100_usd', threshold: usd('100') },
      { kind: 'spend_1000_usd', threshold: usd('1000') },
    ]);
    expect(thresholdCrossings(usd('1000'), usd('100000'), pro)).toEqual([]);
  });

  it('no grant, no credits crossing; a limit of 0 is never crossed (blocked from the start)', () => {
    const freeOrg: CrossingContext = { kind: 'org', plan: 'free', grant: 0n, payAsYouGo: false };
    expect(thresholdCrossings(0n, usd('10'), freeOrg)).toEqual([
      { kind: 'spend_10_usd', threshold: usd('10') },
    ]);
    expect(thresholdCrossings(0n, usd('1'), { ...freeOrg, limit: 0n })).toEqual([]);
  });

  it('nothing when spend does not grow', () => {
    expect(thresholdCrossings(usd('1.50'), usd('0.10'), teamWithLimit)).toEqual([]);
    expect(thresholdCrossings(usd('0.80'), usd('0.80'), teamWithLimit)).toEqual([]);
  });

  it('rejects bad input', () => {
    expect(() => thresholdCrossings(-1n, 0n, pro)).toThrow(/before/);
    expect(() => thresholdCrossings(0n, 1n, { ...pro, limit: 1n })).toThrow(/only orgs/);
    expect(() => thresholdCrossings(0n, 1n, { ...pro, plan: 'team' })).toThrow(/plan/);
  });

  it('describes crossings with exact USD and a severity', () => {
    const [c50, , c100] = thresholdCrossings(0n, usd('1'), teamWithLimit);
    expect(c50 && describeCrossing(c50, teamWithLimit)).toEqual({
      severity: 'info',
      message: 'Month-to-date spend reached $0.50, 50% of the spending limit of $1.00',
    });
    expect(c100 && describeCrossing(c100, teamWithLimit).severity).toBe('critical');
    const [free] = thresholdCrossings(0n, usd('1'), freeUser);
    expect(free && describeCrossing(free, freeUser)).toEqual({
      severity: 'critical',
      message: "The month's credits of $0.10 are used up; requests are blocked until next month",
    });
  });
});

describe('alertKey', () => {
  it('is one key per account, month and threshold', () => {
    expect(alertKey('acme', '2024-03', 'limit_80')).toBe('threshold:2024-03:acme:limit_80');
    const keys = new Set(
      CROSSING_KINDS.flatMap((kind) =>
        ['2024-03', '2024-04'].flatMap((month) =>
          ['acme', 'alice'].map((account) => alertKey(account, month, kind)),
        ),
      ),
    );
    expect(keys.size).toBe(CROSSING_KINDS.length * 4);
  });

  it('rejects a bad month, account or kind', () => {
    expect(() => alertKey('acme', '2024-3', 'limit_80')).toThrow(/YYYY-MM/);
    expect(() => alertKey('', '2024-03', 'limit_80')).toThrow(/accountId/);
    expect(() => alertKey('acme', '2024-03', 'limit_90' as 'limit_80')).toThrow(/kind/);
  });
});

describe('thresholdCrossings: properties', () => {
  const context: fc.Arbitrary<CrossingContext> = fc.oneof(
    fc.record({
      kind: fc.constant('org' as const),
      plan: fc.constantFrom('free', 'team', 'enterprise'),
      grant: fc.bigInt({ min: 0n, max: usd('20') }),
      limit: fc.option(fc.bigInt({ min: 0n, max: usd('2000') }), { nil: undefined }),
      payAsYouGo: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('user' as const),
      plan: fc.constantFrom('free', 'pro'),
      grant: fc.constantFrom(0n, FREE_USER_GRANT, PRO_USER_GRANT),
      payAsYouGo: fc.boolean(),
    }),
  );
  // Spends that hit thresholds exactly as often as they jump over them.
  const spendFor = (ctx: CrossingContext) =>
    fc.oneof(
      fc.bigInt({ min: 0n, max: usd('2500') }),
      fc.constantFrom(...thresholdsFor(ctx).map((t) => t.threshold)),
      fc.constantFrom(...thresholdsFor(ctx).map((t) => t.threshold + 1n)),
    );
  const sorted = (xs: bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  it('over increasing spends, each threshold is crossed at most once, exactly those reached', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) =>
          fc.tuple(fc.constant(ctx), fc.array(spendFor(ctx), { minLength: 1, maxLength: 30 })),
        ),
        ([ctx, spends]) => {
          const path = sorted(spends);
          const start = path[0] ?? 0n;
          const crossed = path.flatMap((after, i) =>
            i === 0 ? [] : thresholdCrossings(path[i - 1] ?? 0n, after, ctx),
          );
          const final = path[path.length - 1] ?? 0n;
          const kinds = crossed.map((c) => c.kind);
          expect(new Set(kinds).size).toBe(kinds.length);
          expect(crossed).toEqual(
            thresholdsFor(ctx).filter((t) => start < t.threshold && t.threshold <= final),
          );
          // Going there in one step gives the same crossings.
          expect(thresholdCrossings(start, final, ctx)).toEqual(crossed);
        },
      ),
    );
  });

  it('limit_80 and limit_100 coincide with warning and blocked', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: usd('100') }),
        fc.bigInt({ min: 0n, max: usd('200') }),
        fc.bigInt({ min: 0n, max: usd('200') }),
        (limit, a, b) => {
          const [before, after] = a <= b ? [a, b] : [b, a];
          const ctx: CrossingContext = {
            kind: 'org',
            plan: 'team',
            grant: 0n,
            limit,
            payAsYouGo: true,
          };
          const kinds = thresholdCrossings(before, after, ctx).map((c) => c.kind);
          const rank = (spend: bigint) => accountStatus({ ...ctx, spend }).status;
          const entered = (s: string) => rank(before) !== s && rank(after) === s;
          if (entered('blocked')) expect(kinds).toContain('limit_100');
          if (entered('warning')) expect(kinds).toContain('limit_80');
          if (kinds.includes('limit_100')) expect(rank(after)).toBe('blocked');
        },
      ),
    );
  });
});
