import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { monthBounds } from '@nanobill/calendar';
import {
  grantAt,
  monthGrant,
  monthPlans,
  type PlanFacts,
  type PlanSnapshot,
} from '../src/index.js';

const FREE: PlanFacts = { kind: 'user', plan: 'free' };
const PRO: PlanFacts = { kind: 'user', plan: 'pro' };
const team = (seats: number): PlanFacts => ({ kind: 'org', plan: 'team', seats });
const usd = (dollars: string): bigint => {
  const [whole = '0', fraction = ''] = dollars.split('.');
  return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
};

describe('monthGrant: the issue cases', () => {
  it('upgrade free → PRO on the 15th: $2.00 that month', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T08:00:00Z', facts: FREE },
      { effectiveAt: '2024-03-15T12:00:00Z', facts: PRO },
    ];
    expect(monthGrant(history, '2024-02')).toBe(usd('0.10'));
    expect(monthGrant(history, '2024-03')).toBe(usd('2.00'));
    expect(monthGrant(history, '2024-04')).toBe(usd('2.00'));
  });

  it('downgrade PRO → free on the 15th: $2.00 this month, $0.10 next', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T08:00:00Z', facts: PRO },
      { effectiveAt: '2024-03-15T12:00:00Z', facts: FREE },
    ];
    expect(monthGrant(history, '2024-03')).toBe(usd('2.00'));
    expect(monthGrant(history, '2024-04')).toBe(usd('0.10'));
  });

  it('seats 10 → 12 mid-month: $24.00', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-01T00:00:00Z', facts: team(10) },
      { effectiveAt: '2024-03-15T00:00:00Z', facts: team(12) },
    ];
    expect(monthGrant(history, '2024-02')).toBe(usd('20.00'));
    expect(monthGrant(history, '2024-03')).toBe(usd('24.00'));
    expect(monthGrant(history, '2024-04')).toBe(usd('24.00'));
  });

  it('seats 12 → 10 mid-month: $24.00 this month, $20.00 next', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-01T00:00:00Z', facts: team(12) },
      { effectiveAt: '2024-03-15T00:00:00Z', facts: team(10) },
    ];
    expect(monthGrant(history, '2024-03')).toBe(usd('24.00'));
    expect(monthGrant(history, '2024-04')).toBe(usd('20.00'));
  });

  it('a snapshot effective exactly at the month start counts for that month', () => {
    const upgrade: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T00:00:00Z', facts: FREE },
      { effectiveAt: '2024-03-01T00:00:00Z', facts: PRO },
    ];
    expect(monthGrant(upgrade, '2024-02')).toBe(usd('0.10'));
    expect(monthGrant(upgrade, '2024-03')).toBe(usd('2.00'));
    // A downgrade effective at the first instant: the PRO plan was never held in March.
    const downgrade: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T00:00:00Z', facts: PRO },
      { effectiveAt: '2024-03-01T00:00:00Z', facts: FREE },
    ];
    expect(monthGrant(downgrade, '2024-02')).toBe(usd('2.00'));
    expect(monthGrant(downgrade, '2024-03')).toBe(usd('0.10'));
  });

  it('one effective exactly at the next month start does not count', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T00:00:00Z', facts: FREE },
      { effectiveAt: '2024-04-01T00:00:00Z', facts: PRO },
    ];
    expect(monthGrant(history, '2024-03')).toBe(usd('0.10'));
    expect(monthGrant(history, '2024-04')).toBe(usd('2.00'));
    // …while one at the month's last millisecond does.
    const lastMs: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T00:00:00Z', facts: FREE },
      { effectiveAt: '2024-03-31T23:59:59.999Z', facts: PRO },
    ];
    expect(monthGrant(lastMs, '2024-03')).toBe(usd('2.00'));
  });
});

describe('monthGrant: details', () => {
  it('reads offsets as UTC instants', () => {
    // 2024-04-01T00:30+01:00 is March 31st 23:30 UTC: a March upgrade.
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-10T00:00:00Z', facts: FREE },
      { effectiveAt: '2024-04-01T00:30:00+01:00', facts: PRO },
    ];
    expect(monthGrant(history, '2024-03')).toBe(usd('2.00'));
  });

  it('accepts Dates and unsorted history', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: new Date('2024-03-20T00:00:00Z'), facts: team(3) },
      { effectiveAt: new Date('2024-01-01T00:00:00Z'), facts: team(5) },
      { effectiveAt: new Date('2024-02-20T00:00:00Z'), facts: team(4) },
    ];
    expect(monthGrant(history, '2024-02')).toBe(usd('10.00'));
    expect(monthGrant(history, '2024-03')).toBe(usd('8.00'));
    expect(monthGrant(history, '2024-04')).toBe(usd('6.00'));
  });

  it('several changes in a month: the largest grant held at any moment', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-02-01T00:00:00Z', facts: team(2) },
      { effectiveAt: '2024-03-05T00:00:00Z', facts: team(30) },
      { effectiveAt: '2024-03-06T00:00:00Z', facts: team(1) },
      { effectiveAt: '2024-03-20T00:00:00Z', facts: { kind: 'org', plan: 'free', seats: 40 } },
    ];
    expect(monthGrant(history, '2024-03')).toBe(usd('60.00'));
    expect(monthGrant(history, '2024-04')).toBe(0n);
  });

  it('a free org has no credits', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-01T00:00:00Z', facts: { kind: 'org', plan: 'free', seats: 9 } },
    ];
    expect(monthGrant(history, '2024-03')).toBe(0n);
  });

  it('snapshots before the month start: only the latest is in force', () => {
    const history: PlanSnapshot[] = [
      { effectiveAt: '2024-01-01T00:00:00Z', facts: PRO },
      { effectiveAt: '2024-02-10T00:00:00Z', facts: FREE },
    ];
    expect(monthGrant(history, '2024-02')).toBe(usd('2.00'));
    expect(monthGrant(history, '2024-03')).toBe(usd('0.10'));
  });

  it('same effectiveAt before the start: the later one in history order is in force', () => {
    const at = '2024-02-10T00:00:00Z';
    expect(
      monthGrant(
        [
          { effectiveAt: at, facts: PRO },
          { effectiveAt: at, facts: FREE },
        ],
        '2024-03',
      ),
    ).toBe(usd('0.10'));
    expect(
      monthGrant(
        [
          { effectiveAt: at, facts: FREE },
          { effectiveAt: at, facts: PRO },
        ],
        '2024-03',
      ),
    ).toBe(usd('2.00'));
  });

  describe('no snapshot in force at the month start', () => {
    it('nothing at all: 0n without defaultFacts, their grant with', () => {
      expect(monthGrant([], '2024-03')).toBe(0n);
      expect(monthGrant([], '2024-03', { defaultFacts: FREE })).toBe(usd('0.10'));
    });

    it('only snapshots after the month: same as nothing', () => {
      const later: PlanSnapshot[] = [{ effectiveAt: '2024-04-01T00:00:00Z', facts: PRO }];
      expect(monthGrant(later, '2024-03')).toBe(0n);
      expect(monthGrant(later, '2024-03', { defaultFacts: FREE })).toBe(usd('0.10'));
    });

    it('first snapshot inside the month: its grant, or the default if larger', () => {
      const firstPro: PlanSnapshot[] = [{ effectiveAt: '2024-03-15T00:00:00Z', facts: PRO }];
      expect(monthGrant(firstPro, '2024-03')).toBe(usd('2.00'));
      expect(monthGrant(firstPro, '2024-03', { defaultFacts: FREE })).toBe(usd('2.00'));
      const firstFree: PlanSnapshot[] = [{ effectiveAt: '2024-03-15T00:00:00Z', facts: FREE }];
      expect(monthGrant(firstFree, '2024-03')).toBe(usd('0.10'));
    });

    it('defaultFacts are ignored when a snapshot is in force at the start', () => {
      const history: PlanSnapshot[] = [{ effectiveAt: '2024-01-01T00:00:00Z', facts: FREE }];
      expect(monthGrant(history, '2024-03', { defaultFacts: PRO })).toBe(usd('0.10'));
    });
  });

  it.each<[string, PlanSnapshot[], string, RegExp]>([
    ['a bad month', [], '2024-3', /YYYY-MM/],
    [
      'an instant without zone',
      [{ effectiveAt: '2024-03-01T00:00:00', facts: FREE }],
      '2024-03',
      /zone/,
    ],
    [
      'an impossible date',
      [{ effectiveAt: '2024-02-30T00:00:00Z', facts: PRO }],
      '2024-03',
      /impossible/,
    ],
    [
      'an invalid Date',
      [{ effectiveAt: new Date(Number.NaN), facts: PRO }],
      '2024-03',
      /invalid Date/,
    ],
    [
      'a bad plan, even outside the month',
      [
        {
          effectiveAt: '2020-01-01T00:00:00Z',
          facts: { kind: 'user', plan: 'gold' } as unknown as PlanFacts,
        },
      ],
      '2024-03',
      /unknown user plan/,
    ],
  ])('rejects %s', (_name, history, month, message) => {
    expect(() => monthGrant(history, month)).toThrow(message);
  });

  describe('a history that mixes user and org facts (stored before the kind check)', () => {
    it('the kind of the earliest snapshot holds; the others are ignored, not thrown on', () => {
      const history: PlanSnapshot[] = [
        { effectiveAt: '2024-02-01T00:00:00Z', facts: team(5) },
        { effectiveAt: '2024-01-01T00:00:00Z', facts: FREE },
        { effectiveAt: '2024-03-10T00:00:00Z', facts: PRO },
      ];
      expect(monthGrant(history, '2024-03')).toBe(usd('2.00'));
      expect(monthPlans(history, '2024-03')).toEqual([PRO, FREE]);
      const orgFirst: PlanSnapshot[] = [
        { effectiveAt: '2024-01-01T00:00:00Z', facts: team(5) },
        { effectiveAt: '2024-03-10T00:00:00Z', facts: PRO },
      ];
      expect(monthGrant(orgFirst, '2024-03')).toBe(usd('10.00'));
    });

    it('defaultFacts of the other kind are ignored', () => {
      const orgOnly: PlanSnapshot[] = [{ effectiveAt: '2024-03-15T00:00:00Z', facts: team(1) }];
      expect(monthPlans(orgOnly, '2024-03', { defaultFacts: FREE })).toEqual([team(1)]);
      expect(monthGrant([], '2024-03', { defaultFacts: team(2) })).toBe(usd('4.00'));
    });
  });
});

// ---- properties ----

const MONTH = '2024-03';
const { start, end } = monthBounds(MONTH);
// Snapshots from two months before to one month after the target month, millisecond precision.
const RANGE_MIN = Date.UTC(2024, 0, 1);
const RANGE_MAX = Date.UTC(2024, 4, 1);

const userFacts = fc.constantFrom<PlanFacts>(FREE, PRO);
const orgFacts: fc.Arbitrary<PlanFacts> = fc.record({
  kind: fc.constant('org' as const),
  plan: fc.constantFrom('free' as const, 'team' as const, 'enterprise' as const),
  seats: fc.integer({ min: 0, max: 500 }),
});
const snapshotOf = (facts: fc.Arbitrary<PlanFacts>, min = RANGE_MIN, max = RANGE_MAX) =>
  fc.record({
    effectiveAt: fc.integer({ min, max }).map((ms) => new Date(ms)),
    facts,
  });
// A kind, a history of that kind and an extra snapshot of it strictly inside the month.
const scenario = fc.constantFrom(userFacts, orgFacts).chain((facts) =>
  fc.record({
    history: fc.array(snapshotOf(facts), { maxLength: 12 }),
    extra: snapshotOf(facts, start.getTime() + 1, end.getTime() - 1),
    defaultFacts: fc.option(facts, { nil: undefined }),
  }),
);

/** Brute force: the facts in force at the start and at every change inside the month. */
function oracle(history: PlanSnapshot[], defaultFacts?: PlanFacts): bigint {
  const at = (s: PlanSnapshot) => new Date(s.effectiveAt).getTime();
  const inForce = (t: number): PlanFacts | undefined => {
    let best: PlanSnapshot | undefined;
    for (const s of history) if (at(s) <= t && (best === undefined || at(s) >= at(best))) best = s;
    return best?.facts;
  };
  const moments = [
    start.getTime(),
    ...history.map(at).filter((t) => t >= start.getTime() && t < end.getTime()),
  ];
  let max = 0n;
  for (const t of moments) {
    const facts = inForce(t) ?? (t === start.getTime() ? defaultFacts : undefined);
    if (facts !== undefined && grantAt(facts) > max) max = grantAt(facts);
  }
  return max;
}

describe('monthGrant: properties', () => {
  it('adding a snapshot inside the month never lowers the grant', () => {
    fc.assert(
      fc.property(scenario, ({ history, extra, defaultFacts }) => {
        const before = monthGrant(history, MONTH, { defaultFacts });
        const after = monthGrant([...history, extra], MONTH, { defaultFacts });
        expect(after >= before).toBe(true);
        expect(after >= grantAt(extra.facts)).toBe(true);
      }),
    );
  });

  it('equals the largest grant in force at any moment of the month (brute force)', () => {
    fc.assert(
      fc.property(scenario, ({ history, defaultFacts }) => {
        // Distinct instants, so "in force" is unambiguous for the oracle.
        const unique = history.filter(
          (s, i) =>
            history.findIndex((o) => o.effectiveAt.getTime() === s.effectiveAt.getTime()) === i,
        );
        expect(monthGrant(unique, MONTH, { defaultFacts })).toBe(oracle(unique, defaultFacts));
      }),
    );
  });

  it('does not depend on the order of the history (distinct instants)', () => {
    fc.assert(
      fc.property(
        scenario.chain(({ history }) => {
          const unique = history.filter(
            (s, i) =>
              history.findIndex((o) => o.effectiveAt.getTime() === s.effectiveAt.getTime()) === i,
          );
          return fc.tuple(
            fc.constant(unique),
            fc.shuffledSubarray(unique, { minLength: unique.length }),
          );
        }),
        ([history, shuffled]) => {
          expect(monthGrant(shuffled, MONTH)).toBe(monthGrant(history, MONTH));
        },
      ),
    );
  });

  it('ignores snapshots after the month and is never below the grant in force at the start', () => {
    fc.assert(
      fc.property(scenario, ({ history }) => {
        const upToEnd = history.filter((s) => s.effectiveAt.getTime() < end.getTime());
        expect(monthGrant(history, MONTH)).toBe(monthGrant(upToEnd, MONTH));
        const beforeStart = history.filter((s) => s.effectiveAt.getTime() <= start.getTime());
        expect(monthGrant(history, MONTH) >= monthGrant(beforeStart, MONTH)).toBe(true);
      }),
    );
  });

  it('a mixed history counts only the facts of the kind first seen', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(snapshotOf(fc.constantFrom<PlanFacts>(FREE, PRO, team(3))), { maxLength: 6 }),
        ({ history, defaultFacts }, others) => {
          const mixed = [...history, ...others];
          const first = [...mixed].sort(
            (a, b) => a.effectiveAt.getTime() - b.effectiveAt.getTime(),
          )[0];
          const kind = first?.facts.kind ?? defaultFacts?.kind;
          const clean = mixed.filter((s) => s.facts.kind === kind);
          const fallback = defaultFacts?.kind === kind ? defaultFacts : undefined;
          // Distinct instants: the earliest snapshot is unambiguous.
          fc.pre(new Set(mixed.map((s) => s.effectiveAt.getTime())).size === mixed.length);
          expect(monthGrant(mixed, MONTH, { defaultFacts })).toBe(
            monthGrant(clean, MONTH, { defaultFacts: fallback }),
          );
        },
      ),
    );
  });

  it('a downgrade lowers the grant only from the next month on', () => {
    fc.assert(
      fc.property(
        orgFacts,
        orgFacts,
        fc.integer({ min: start.getTime(), max: end.getTime() - 1 }),
        (from, to, changeMs) => {
          const history: PlanSnapshot[] = [
            { effectiveAt: '2024-01-01T00:00:00Z', facts: from },
            { effectiveAt: new Date(changeMs), facts: to },
          ];
          const expected = grantAt(from) > grantAt(to) ? grantAt(from) : grantAt(to);
          if (changeMs === start.getTime()) {
            expect(monthGrant(history, MONTH)).toBe(grantAt(to));
          } else {
            expect(monthGrant(history, MONTH)).toBe(expected);
          }
          expect(monthGrant(history, '2024-04')).toBe(grantAt(to));
        },
      ),
    );
  });
});
