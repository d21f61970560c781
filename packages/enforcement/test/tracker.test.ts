import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpendTracker, accountStatus, thresholdCrossings } from '../src/index.js';
import { usd } from './helpers.js';

describe('SpendTracker', () => {
  it('counts estimates until priced, then the real cost', () => {
    const t = new SpendTracker();
    expect(t.estimate('r1', 'acme', '2024-03', usd('0.30'))).toEqual([
      { accountId: 'acme', month: '2024-03', before: 0n, after: usd('0.30') },
    ]);
    t.estimate('r2', 'acme', '2024-03', usd('0.20'));
    expect(t.spend('acme', '2024-03')).toBe(usd('0.50'));
    expect(t.price('r1', 'acme', '2024-03', usd('0.25'), 1_000)).toEqual([
      { accountId: 'acme', month: '2024-03', before: usd('0.50'), after: usd('0.45') },
    ]);
    expect(t.breakdown('acme', '2024-03')).toEqual({
      priced: usd('0.25'),
      estimated: usd('0.20'),
      spend: usd('0.45'),
      outstanding: 1,
    });
  });

  it('is idempotent per request: repeated estimates and prices count once', () => {
    const t = new SpendTracker();
    t.estimate('r1', 'acme', '2024-03', 100n);
    expect(t.estimate('r1', 'acme', '2024-03', 999n)).toEqual([]);
    t.price('r1', 'acme', '2024-03', 120n, 1_000);
    expect(t.price('r1', 'acme', '2024-03', 120n, 1_000)).toEqual([]);
    expect(t.price('r1', 'acme', '2024-03', 500n, 1_000)).toEqual([]); // the first price counts
    expect(t.estimate('r1', 'acme', '2024-03', 100n)).toEqual([]); // late estimate ignored
    expect(t.spend('acme', '2024-03')).toBe(120n);
  });

  it('a price moves the estimate when the request is billed elsewhere', () => {
    const t = new SpendTracker();
    t.estimate('r1', 'acme', '2024-03', 100n);
    const changes = t.price('r1', 'alice', '2024-03', 90n, 1_000);
    expect(changes).toEqual([
      { accountId: 'acme', month: '2024-03', before: 100n, after: 0n },
      { accountId: 'alice', month: '2024-03', before: 0n, after: 90n },
    ]);
    expect(t.spend('acme', '2024-03')).toBe(0n);
    expect(t.spend('alice', '2024-03')).toBe(90n);
  });

  it('months are separate; rollover forgets earlier months and ignores late calls for them', () => {
    const t = new SpendTracker();
    t.price('r1', 'alice', '2024-03', usd('0.10'), 1_000);
    t.estimate('r2', 'alice', '2024-04', usd('0.01'));
    expect(t.spend('alice', '2024-03')).toBe(usd('0.10'));
    t.rollover('2024-04');
    expect(t.spend('alice', '2024-03')).toBe(0n);
    expect(t.accounts('2024-03')).toEqual([]);
    expect(t.price('r1', 'alice', '2024-03', usd('0.10'), 1_000)).toEqual([]); // a redelivery
    expect(t.spend('alice', '2024-03')).toBe(0n);
    expect(t.spend('alice', '2024-04')).toBe(usd('0.01'));
    t.rollover('2024-02'); // the floor only moves forward
    expect(t.estimate('r3', 'alice', '2024-03', 1n)).toEqual([]);
  });

  it('feeds status and crossings: a free user blocked at $0.10, ok next month', () => {
    const t = new SpendTracker();
    const ctx = { kind: 'user', plan: 'free', grant: usd('0.10'), payAsYouGo: false } as const;
    t.price('r1', 'bob', '2024-03', usd('0.09'), 1_000);
    const [change] = t.estimate('r2', 'bob', '2024-03', usd('0.02'));
    expect(change && thresholdCrossings(change.before, change.after, ctx)).toEqual([
      { kind: 'credits_exhausted', threshold: usd('0.10') },
    ]);
    expect(accountStatus({ ...ctx, spend: t.spend('bob', '2024-03') }).status).toBe('blocked');
    t.rollover('2024-04');
    expect(accountStatus({ ...ctx, spend: t.spend('bob', '2024-04') }).status).toBe('ok');
  });

  it('rejects bad input', () => {
    const t = new SpendTracker();
    expect(() => t.estimate('', 'a', '2024-03', 1n)).toThrow(/requestKey/);
    expect(() => t.estimate('r', 'a', '2024-3', 1n)).toThrow(/YYYY-MM/);
    expect(() => t.price('r', 'a', '2024-03', -1n, 1_000)).toThrow(/negative/);
  });
});

describe('SpendTracker: properties', () => {
  interface Req {
    key: string;
    account: string;
    cost: bigint;
    estimate: bigint;
  }
  const requests = fc.uniqueArray(
    fc.record({
      key: fc.string({ minLength: 1, maxLength: 4 }),
      account: fc.constantFrom('acme', 'alice', 'bob'),
      cost: fc.bigInt({ min: 0n, max: 10n ** 12n }),
      estimate: fc.bigInt({ min: 0n, max: 10n ** 12n }),
    }),
    { selector: (r) => r.key, minLength: 1, maxLength: 15 },
  );
  type Op = { type: 'estimate' | 'price'; req: Req };
  // Every request priced at least once, estimated any number of times, repeated and shuffled.
  const scenario = requests.chain((reqs) =>
    fc
      .tuple(
        ...reqs.map((req) =>
          fc
            .tuple(fc.nat({ max: 3 }), fc.integer({ min: 1, max: 3 }))
            .map(([e, p]) => [
              ...Array.from({ length: e }, (): Op => ({ type: 'estimate', req })),
              ...Array.from({ length: p }, (): Op => ({ type: 'price', req })),
            ]),
        ),
      )
      .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length }))
      .map((ops) => ({ reqs, ops })),
  );
  const month = '2024-03';
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);

  it('never double counts, in any order, and ends at Σ final costs', () => {
    fc.assert(
      fc.property(scenario, ({ reqs, ops }) => {
        const t = new SpendTracker();
        const seen = new Map<string, 'estimated' | 'priced'>();
        for (const { type, req } of ops) {
          if (type === 'estimate') t.estimate(req.key, req.account, month, req.estimate);
          else t.price(req.key, req.account, month, req.cost, 1_000);
          if (type === 'price') seen.set(req.key, 'priced');
          else if (!seen.has(req.key)) seen.set(req.key, 'estimated');
          // Model: each request seen counts once, its cost if priced, else its estimate.
          for (const account of ['acme', 'alice', 'bob']) {
            const expected = sum(
              reqs
                .filter((r) => r.account === account && seen.has(r.key))
                .map((r) => (seen.get(r.key) === 'priced' ? r.cost : r.estimate)),
            );
            expect(t.spend(account, month)).toBe(expected);
          }
        }
        for (const account of ['acme', 'alice', 'bob']) {
          const finals = reqs.filter((r) => r.account === account).map((r) => r.cost);
          expect(t.spend(account, month)).toBe(sum(finals));
          expect(t.breakdown(account, month).outstanding).toBe(0);
        }
      }),
    );
  });

  it('the changes it reports add up to the spend', () => {
    fc.assert(
      fc.property(scenario, ({ ops }) => {
        const t = new SpendTracker();
        const last = new Map<string, bigint>();
        for (const { type, req } of ops) {
          const changes =
            type === 'estimate'
              ? t.estimate(req.key, req.account, month, req.estimate)
              : t.price(req.key, req.account, month, req.cost, 1_000);
          for (const c of changes) {
            expect(c.before).toBe(last.get(c.accountId) ?? 0n);
            expect(c.after).toBe(t.spend(c.accountId, month));
            last.set(c.accountId, c.after);
          }
        }
        for (const account of ['acme', 'alice', 'bob']) {
          expect(t.spend(account, month)).toBe(last.get(account) ?? 0n);
        }
      }),
    );
  });
});

describe('SpendTracker: unpriced requests (issue 13, item 4)', () => {
  it("an unpriced request's estimate leaves the spend; a redelivered estimate does not return", () => {
    const t = new SpendTracker();
    t.estimate('r1', 'zoe', '2024-03', 70n);
    t.estimate('r2', 'zoe', '2024-03', 5n);
    expect(t.unpriced('r1', '2024-03', 1_000)).toEqual([
      { accountId: 'zoe', month: '2024-03', before: 75n, after: 5n },
    ]);
    expect(t.breakdown('zoe', '2024-03')).toEqual({
      priced: 0n,
      estimated: 5n,
      spend: 5n,
      outstanding: 1,
    });
    expect(t.unpriced('r1', '2024-03', 2_000)).toEqual([]); // idempotent
    expect(t.estimate('r1', 'zoe', '2024-03', 70n)).toEqual([]); // a redelivery
    expect(t.spend('zoe', '2024-03')).toBe(5n);
  });

  it('the ledger wins: priced then unpriced keeps the cost; unpriced then priced counts it', () => {
    const t = new SpendTracker();
    t.estimate('a', 'zoe', '2024-03', 10n);
    t.price('a', 'zoe', '2024-03', 12n, 1_000);
    expect(t.unpriced('a', '2024-03', 2_000)).toEqual([]);
    expect(t.spend('zoe', '2024-03')).toBe(12n);

    t.estimate('b', 'zoe', '2024-03', 10n);
    t.unpriced('b', '2024-03', 3_000);
    expect(t.price('b', 'acme', '2024-03', 30n, 4_000)).toEqual([
      { accountId: 'acme', month: '2024-03', before: 0n, after: 30n },
    ]);
    expect(t.spend('zoe', '2024-03')).toBe(12n);
    expect(t.price('b', 'acme', '2024-03', 30n, 5_000)).toEqual([]);
    expect(t.spend('acme', '2024-03')).toBe(30n);

    // Unpriced before it was ever estimated here: remembered, a later estimate is ignored.
    expect(t.unpriced('c', '2024-03', 6_000)).toEqual([]);
    expect(t.estimate('c', 'zoe', '2024-03', 99n)).toEqual([]);
    expect(t.spend('zoe', '2024-03')).toBe(12n);
  });

  it('forgets unpriced requests like priced ones, by the instant they were settled', () => {
    const t = new SpendTracker();
    t.unpriced('old', '2024-03', 1_000);
    t.unpriced('recent', '2024-03', 9_000);
    t.estimate('open', 'zoe', '2024-03', 3n);
    expect(t.forgetSettled(5_000)).toBe(1);
    expect(t.remembered).toBe(2);
    expect(t.books('2024-03')).toEqual([
      { accountId: 'zoe', priced: 0n, estimated: 3n, outstanding: 1 },
    ]);
  });

  it('property: in any order, each request counts once: its cost if priced, 0 if only unpriced', () => {
    const month = '2024-03';
    type Kind = 'estimate' | 'price' | 'unpriced';
    const op = fc.record({
      key: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
      kind: fc.constantFrom<Kind>('estimate', 'price', 'unpriced'),
    });
    const estimate = (key: string) => BigInt(key.charCodeAt(1)) * 7n;
    const cost = (key: string) => BigInt(key.charCodeAt(1)) * 1_000n;
    const payer = (key: string) => (key === 'r1' || key === 'r3' ? 'acme' : 'zoe');
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const t = new SpendTracker();
        const state = new Map<string, Kind>();
        for (const [i, { key, kind }] of ops.entries()) {
          if (kind === 'estimate') t.estimate(key, 'zoe', month, estimate(key));
          else if (kind === 'price') t.price(key, payer(key), month, cost(key), i);
          else t.unpriced(key, month, i);
          // Model: a price always wins; an unpriced replaces an estimate; else the first stays.
          const was = state.get(key);
          if (kind === 'price' || was === undefined || (kind === 'unpriced' && was === 'estimate'))
            state.set(key, kind);
        }
        const expected = new Map<string, bigint>();
        for (const [key, kind] of state) {
          const [account, amount] =
            kind === 'price'
              ? [payer(key), cost(key)]
              : kind === 'estimate'
                ? ['zoe', estimate(key)]
                : ['zoe', 0n];
          expected.set(account, (expected.get(account) ?? 0n) + amount);
        }
        for (const account of ['acme', 'zoe']) {
          expect(t.spend(account, month)).toBe(expected.get(account) ?? 0n);
        }
        const outstanding = [...state.values()].filter((k) => k === 'estimate').length;
        expect(t.books(month).reduce((n, b) => n + b.outstanding, 0)).toBe(outstanding);
      }),
    );
  });
});

describe('SpendTracker memory', () => {
  it('adds priced sums known only in aggregate to the priced part', () => {
    const t = new SpendTracker();
    t.estimate('r1', 'acme', '2024-03', 40n);
    expect(t.addPriced('acme', '2024-03', 1_000n)).toEqual([
      { accountId: 'acme', month: '2024-03', before: 40n, after: 1_040n },
    ]);
    expect(t.addPriced('acme', '2024-03', 0n)).toEqual([]);
    expect(t.breakdown('acme', '2024-03')).toEqual({
      priced: 1_000n,
      estimated: 40n,
      spend: 1_040n,
      outstanding: 1,
    });
  });

  it('forgets requests priced before an instant but keeps their amounts and the estimates', () => {
    const t = new SpendTracker();
    t.price('old', 'acme', '2024-03', 100n, 1_000);
    t.price('recent', 'acme', '2024-03', 200n, 5_000);
    t.estimate('pending', 'acme', '2024-03', 7n);
    expect(t.forgetSettled(5_000)).toBe(1);
    expect(t.remembered).toBe(2);
    expect(t.spend('acme', '2024-03')).toBe(307n);
    // Still remembered: a redelivered price of 'recent' is ignored.
    expect(t.price('recent', 'acme', '2024-03', 200n, 6_000)).toEqual([]);
    // The pending estimate is never forgotten, whatever the instant.
    expect(t.forgetSettled(Number.MAX_SAFE_INTEGER)).toBe(1);
    expect(t.breakdown('acme', '2024-03').outstanding).toBe(1);
    expect(t.price('pending', 'acme', '2024-03', 9n, 7_000)).toEqual([
      { accountId: 'acme', month: '2024-03', before: 307n, after: 309n },
    ]);
  });

  it('refuses a price without a valid instant', () => {
    expect(() => new SpendTracker().price('r', 'a', '2024-03', 1n, Number.NaN)).toThrow(/instant/);
  });
});
