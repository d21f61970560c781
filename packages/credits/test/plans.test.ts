import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { grantAt, payAsYouGo, type PlanFacts } from '../src/index.js';

describe('grantAt', () => {
  it.each<[PlanFacts, bigint]>([
    [{ kind: 'user', plan: 'free' }, 100_000_000n],
    [{ kind: 'user', plan: 'pro' }, 2_000_000_000n],
    [{ kind: 'org', plan: 'team', seats: 1 }, 2_000_000_000n],
    [{ kind: 'org', plan: 'team', seats: 10 }, 20_000_000_000n],
    [{ kind: 'org', plan: 'enterprise', seats: 12 }, 24_000_000_000n],
    [{ kind: 'org', plan: 'enterprise', seats: 0 }, 0n],
    [{ kind: 'org', plan: 'free', seats: 50 }, 0n],
  ])('%j → %s nano-USD', (facts, grant) => {
    expect(grantAt(facts)).toBe(grant);
  });

  it('is $2.00 per seat for any seat count, exactly (no Number overflow)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('team' as const, 'enterprise' as const),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (plan, seats) => {
          expect(grantAt({ kind: 'org', plan, seats })).toBe(2_000_000_000n * BigInt(seats));
        },
      ),
    );
  });

  it.each([
    [{ kind: 'user', plan: 'team' }, /unknown user plan/],
    [{ kind: 'org', plan: 'pro', seats: 1 }, /unknown org plan/],
    [{ kind: 'org', plan: 'team', seats: -1 }, /seats/],
    [{ kind: 'org', plan: 'team', seats: 1.5 }, /seats/],
    [{ kind: 'org', plan: 'team', seats: Number.NaN }, /seats/],
    [{ kind: 'org', plan: 'team' }, /seats/],
    [{ kind: 'bot', plan: 'free' }, /unknown account kind/],
    [null, /object/],
  ])('rejects %j', (facts, message) => {
    expect(() => grantAt(facts as unknown as PlanFacts)).toThrow(message);
    expect(() => payAsYouGo(facts as unknown as PlanFacts)).toThrow(message);
  });
});

describe('payAsYouGo', () => {
  it.each<[PlanFacts, boolean]>([
    [{ kind: 'user', plan: 'free' }, false],
    [{ kind: 'user', plan: 'pro' }, true],
    [{ kind: 'org', plan: 'free', seats: 3 }, false],
    [{ kind: 'org', plan: 'team', seats: 3 }, true],
    [{ kind: 'org', plan: 'enterprise', seats: 3 }, true],
  ])('%j → %s', (facts, expected) => {
    expect(payAsYouGo(facts)).toBe(expected);
  });
});
