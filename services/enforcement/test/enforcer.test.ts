import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AccountHistory } from '@nanobill/attribution';
import { AccountSnapshot, type AccountStatus as StatusMessage } from '@nanobill/contract';
import { accountStatus, alertKey, thresholdCrossings } from '@nanobill/enforcement';
import { Enforcer, type Decisions } from '../src/enforcer.js';

// Pure unit tests of the Enforcer (docs/contract.md §5–§7): no Kafka, no ClickHouse, an
// explicit clock.

const MIN = 60_000;
const GRACE_MS = 5 * MIN;
/** 2024-03-10T12:00:00Z: every test runs in March 2024 unless it rolls over. */
const T0 = Date.parse('2024-03-10T12:00:00.000Z');
const time = (minutes: number): Date => new Date(T0 + minutes * MIN);
const iso = (minutes: number): string => time(minutes).toISOString();
const MARCH = '2024-03';
const APRIL = '2024-04';

function userSnapshot(
  accountId: string,
  plan: 'free' | 'pro',
  effectiveAt = '2024-01-01T00:00:00.000Z',
): AccountSnapshot {
  return AccountSnapshot.parse({ schemaVersion: 1, accountId, kind: 'user', plan, effectiveAt });
}

interface OrgFacts {
  plan?: 'free' | 'team' | 'enterprise';
  seats?: number;
  members: string[];
  limit?: number | string;
  disabledProviders?: string[];
  alertWebhookUrl?: string;
  effectiveAt?: string;
}

function orgSnapshot(accountId: string, facts: OrgFacts): AccountSnapshot {
  return AccountSnapshot.parse({
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: facts.plan ?? 'team',
    effectiveAt: facts.effectiveAt ?? '2024-01-01T00:00:00.000Z',
    seats: facts.seats ?? Math.max(1, facts.members.length),
    members: facts.members,
    ...(facts.limit === undefined ? {} : { spendingLimitNanoUsd: facts.limit }),
    ...(facts.disabledProviders === undefined
      ? {}
      : { disabledProviders: facts.disabledProviders }),
    ...(facts.alertWebhookUrl === undefined ? {} : { alertWebhookUrl: facts.alertWebhookUrl }),
  });
}

function historyOf(...snapshots: AccountSnapshot[]): AccountHistory {
  const history = new AccountHistory();
  for (const s of snapshots) history.add(s);
  return history;
}

function enforcerAt(now: Date, history = new AccountHistory()): Enforcer {
  return new Enforcer(now, { history, graceMs: GRACE_MS });
}

/**
 * A request that finished at `minutes` and is seen 10 minutes later (past the grace period), so
 * that attribution answers for good.
 */
function see(
  e: Enforcer,
  key: string,
  userId: string,
  estimate: bigint,
  minutes: number,
  billTo?: string,
): void {
  e.seen({ key, userId, billTo, timestamp: iso(minutes), estimate }, time(minutes + 10));
}

const ids = (d: Decisions) => d.alerts.map((a) => a.alertId);
const byAccount = (d: Decisions) => new Map(d.statuses.map((s) => [s.accountId, s]));
const NONE: Decisions = { statuses: [], retired: [], alerts: [] };

describe('Enforcer: a free user is limited by the month credits', () => {
  it.each([
    ['without any snapshot (a free user past the grace period)', historyOf()],
    ['with a free snapshot', historyOf(userSnapshot('zoe', 'free'))],
  ])('%s: ok, warning at $0.08, blocked at $0.10, credits_exhausted once', (_label, history) => {
    const e = enforcerAt(time(0), history);
    expect(e.month).toBe(MARCH);

    see(e, 'r1', 'zoe', 50_000_000n, 1);
    see(e, 'r2', 'zoe', 29_000_000n, 2);
    expect(e.decide(time(20))).toEqual({
      statuses: [
        {
          schemaVersion: 1,
          accountId: 'zoe',
          kind: 'user',
          plan: 'free',
          month: MARCH,
          status: 'ok',
          reason: "ok: month-to-date spend $0.079 is below 80% of the month's credits of $0.10",
          basis: 'credits',
          spendNanoUsd: '79000000',
          pricedNanoUsd: '0',
          estimatedNanoUsd: '79000000',
          limitNanoUsd: '100000000',
          disabledProviders: [],
          updatedAt: iso(20),
        },
      ],
      retired: [],
      alerts: [],
    });

    // One nano short of 80 %: the status does not change, nothing is published.
    see(e, 'r3', 'zoe', 999_999n, 3);
    expect(e.decide(time(21))).toEqual(NONE);
    expect(e.tracker.spend('zoe', MARCH)).toBe(79_999_999n);

    // Exactly 80 %: warning.
    see(e, 'r4', 'zoe', 1n, 4);
    const warning = e.decide(time(22));
    expect(warning.alerts).toEqual([]);
    expect(warning.statuses).toHaveLength(1);
    expect(warning.statuses[0]).toMatchObject({
      accountId: 'zoe',
      status: 'warning',
      basis: 'credits',
      reason:
        "warning: month-to-date spend $0.08 is at least 80% of the month's credits of $0.10 ($0.02 left)",
      spendNanoUsd: '80000000',
      estimatedNanoUsd: '80000000',
      limitNanoUsd: '100000000',
    });
    expect(e.published('zoe')).toBe(warning.statuses[0]);

    // One nano short of the credits: still warning, nothing published.
    see(e, 'r5', 'zoe', 19_999_999n, 5);
    expect(e.decide(time(23))).toEqual(NONE);

    // Credits reached: blocked, and the alert.
    see(e, 'r6', 'zoe', 1n, 6);
    const blocked = e.decide(time(24));
    expect(blocked.statuses.map((s) => [s.status, s.spendNanoUsd, s.reason])).toEqual([
      [
        'blocked',
        '100000000',
        "blocked: month-to-date spend $0.10 has reached the month's credits of $0.10",
      ],
    ]);
    expect(blocked.alerts).toEqual([
      {
        schemaVersion: 1,
        alertId: 'threshold:2024-03:zoe:credits_exhausted',
        type: 'spend_threshold',
        severity: 'critical',
        accountId: 'zoe',
        message: "The month's credits of $0.10 are used up; requests are blocked until next month",
        details: {
          threshold: 'credits_exhausted',
          month: MARCH,
          thresholdNanoUsd: '100000000',
          spendNanoUsd: '100000000',
          grantNanoUsd: '100000000',
        },
        createdAt: iso(24),
      },
    ]);

    // More spend: neither a new status nor the alert again.
    see(e, 'r7', 'zoe', 5_000_000n, 7);
    expect(e.decide(time(25))).toEqual(NONE);
    e.reviewAll();
    expect(e.decide(time(26))).toEqual(NONE);
    expect(e.tracker.spend('zoe', MARCH)).toBe(105_000_000n);
  });

  it('within the grace, an unknown user is never blocked; their snapshot decides (issue 13)', () => {
    const history = new AccountHistory();
    const e = enforcerAt(time(0), history);
    // $0.20 by a user without any snapshot, seen a minute after: twice a free user's credits.
    e.seen({ key: 'r1', userId: 'newbie', timestamp: iso(0), estimate: 200_000_000n }, time(1));
    expect(e.decide(time(1))).toEqual(NONE);
    expect(e.tracker.spend('newbie', MARCH)).toBe(0n);
    expect(e.waiting).toBe(1);
    // Their snapshot arrives: a PRO user. The estimate is theirs; no block, no credits alert.
    history.add(userSnapshot('newbie', 'pro'));
    e.factsChanged(['newbie']);
    const d = e.decide(time(2));
    expect(d.statuses.map((s) => [s.accountId, s.plan, s.status, s.spendNanoUsd])).toEqual([
      ['newbie', 'pro', 'ok', '200000000'],
    ]);
    expect(d.alerts).toEqual([]);
    expect(e.waiting).toBe(0);
  });

  it('a user whose snapshot never comes is a free user once the grace is over', () => {
    const e = enforcerAt(time(0));
    e.seen({ key: 'r1', userId: 'newbie', timestamp: iso(0), estimate: 200_000_000n }, time(1));
    expect(e.decide(time(4))).toEqual(NONE); // 4 minutes: still within the grace
    const d = e.decide(time(5)); // the grace (5 minutes) has ended
    expect(d.statuses.map((s) => [s.accountId, s.plan, s.status])).toEqual([
      ['newbie', 'free', 'blocked'],
    ]);
    expect(ids(d)).toEqual(['threshold:2024-03:newbie:credits_exhausted']);
  });

  it("an unknown org's requests wait for it, then move to it: its limit blocks, not the member", () => {
    const history = historyOf(userSnapshot('alice', 'free'));
    const e = enforcerAt(time(0), history);
    for (let i = 0; i < 30; i++) {
      // $3.00 of traffic naming an org whose snapshot is still on its way.
      e.seen(
        {
          key: `r${i}`,
          userId: 'alice',
          billTo: 'acme',
          timestamp: iso(0),
          estimate: 100_000_000n,
        },
        time(1),
      );
    }
    // Alice is a free user: charging her the org's requests would block her.
    expect(e.decide(time(1))).toEqual(NONE);
    history.add(
      orgSnapshot('acme', { members: ['alice'], limit: 1_000_000_000, effectiveAt: iso(-60) }),
    );
    e.factsChanged(['acme']);
    const d = e.decide(time(2));
    expect(d.statuses.map((s) => [s.accountId, s.status, s.spendNanoUsd])).toEqual([
      ['acme', 'blocked', '3000000000'],
    ]);
    expect(ids(d)).toEqual([
      'threshold:2024-03:acme:limit_50',
      'threshold:2024-03:acme:limit_80',
      'threshold:2024-03:acme:limit_100',
      'threshold:2024-03:acme:credits_exhausted',
    ]);
    expect(e.tracker.spend('alice', MARCH)).toBe(0n);
  });

  it('the month rollover lifts the block; late estimates of the old month do not count', () => {
    const e = enforcerAt(time(0));
    see(e, 'r1', 'zoe', 100_000_000n, 1);
    const march = e.decide(time(20));
    expect(march.statuses.map((s) => s.status)).toEqual(['blocked']);
    expect(ids(march)).toEqual(['threshold:2024-03:zoe:credits_exhausted']);

    // Not yet: the last millisecond of March, or an earlier month.
    expect(e.rollover(new Date('2024-03-31T23:59:59.999Z'))).toBe(false);
    expect(e.rollover(new Date('2024-02-15T00:00:00.000Z'))).toBe(false);
    expect(e.month).toBe(MARCH);

    const april1 = new Date('2024-04-01T00:00:00.000Z');
    expect(e.rollover(april1)).toBe(true);
    expect(e.month).toBe(APRIL);
    expect(e.rollover(april1)).toBe(false);

    // Idle in April and ok: March's status leaves the topic (a tombstone, which readers take
    // for ok) rather than being republished; nothing is alerted.
    expect(e.decide(april1)).toEqual({ statuses: [], retired: [march.statuses[0]], alerts: [] });
    expect(e.published('zoe')).toBeUndefined();

    // A March request seen and priced in April: forgotten month, ignored.
    const april2 = new Date('2024-04-02T00:00:00.000Z');
    e.seen(
      { key: 'late', userId: 'zoe', timestamp: '2024-03-31T23:59:00.000Z', estimate: 90_000_000n },
      april2,
    );
    e.priced({
      key: 'late2',
      billedAccount: 'zoe',
      month: MARCH,
      cost: 90_000_000n,
      pricedAtMs: april2.getTime(),
    });
    e.pricedSum('zoe', MARCH, 90_000_000n);
    expect(e.decide(april2)).toEqual(NONE);
    expect(e.tracker.spend('zoe', MARCH)).toBe(0n);
    expect(e.tracker.spend('zoe', APRIL)).toBe(0n);

    // April's own spend alerts again: a new month, a new alert id.
    e.seen(
      {
        key: 'a1',
        userId: 'zoe',
        timestamp: '2024-04-02T00:00:00.000Z',
        estimate: 100_000_000n,
      },
      new Date('2024-04-02T01:00:00.000Z'),
    );
    const again = e.decide(new Date('2024-04-02T01:00:00.000Z'));
    expect(again.statuses.map((s) => [s.month, s.status, s.spendNanoUsd])).toEqual([
      [APRIL, 'blocked', '100000000'],
    ]);
    expect(ids(again)).toEqual(['threshold:2024-04:zoe:credits_exhausted']);
  });

  it('an estimate of the next month waits for the rollover, then counts', () => {
    const e = enforcerAt(new Date('2024-03-31T23:50:00.000Z'));
    e.seen(
      { key: 'n1', userId: 'zoe', timestamp: '2024-04-01T00:00:00.000Z', estimate: 80_000_000n },
      new Date('2024-04-01T00:10:00.000Z'),
    );
    // Still March for the enforcer: April's spend is not March's.
    expect(e.decide(new Date('2024-03-31T23:59:00.000Z'))).toEqual(NONE);
    expect(e.rollover(new Date('2024-04-01T00:10:00.000Z'))).toBe(true);
    const d = e.decide(new Date('2024-04-01T00:10:00.000Z'));
    expect(d.statuses.map((s) => [s.month, s.status, s.spendNanoUsd])).toEqual([
      [APRIL, 'warning', '80000000'],
    ]);
  });

  it('an upgrade to PRO during the month lifts the block at once', () => {
    const history = historyOf(userSnapshot('zoe', 'free'));
    const e = enforcerAt(time(0), history);
    see(e, 'r1', 'zoe', 100_000_000n, 1);
    expect(e.decide(time(20)).statuses.map((s) => s.status)).toEqual(['blocked']);
    history.add(userSnapshot('zoe', 'pro', iso(30)));
    e.factsChanged(['zoe']);
    const d = e.decide(time(31));
    expect(d.alerts).toEqual([]);
    expect(d.statuses).toHaveLength(1);
    expect(d.statuses[0]).toMatchObject({
      plan: 'pro',
      status: 'ok',
      basis: 'none',
      spendNanoUsd: '100000000',
    });
    expect(d.statuses[0]).not.toHaveProperty('limitNanoUsd');
  });
});

describe('Enforcer: an org spending limit', () => {
  const acme = (extra: Partial<OrgFacts> = {}) =>
    orgSnapshot('acme', {
      plan: 'team',
      seats: 2,
      members: ['alice', 'bob'],
      limit: 1_000_000_000,
      effectiveAt: '2024-03-01T00:00:00.000Z',
      ...extra,
    });

  it('alerts 50 %, 80 % (warning) and 100 % (blocked) once each, in order', () => {
    const history = historyOf(acme(), userSnapshot('alice', 'pro'));
    const e = enforcerAt(time(0), history);

    see(e, 'r1', 'alice', 400_000_000n, 1, 'acme');
    const first = e.decide(time(20));
    expect(first).toEqual({
      statuses: [
        {
          schemaVersion: 1,
          accountId: 'acme',
          kind: 'org',
          plan: 'team',
          month: MARCH,
          status: 'ok',
          reason: 'ok: month-to-date spend $0.40 is below 80% of the spending limit of $1.00',
          basis: 'spending_limit',
          spendNanoUsd: '400000000',
          pricedNanoUsd: '0',
          estimatedNanoUsd: '400000000',
          limitNanoUsd: '1000000000',
          disabledProviders: [],
          updatedAt: iso(20),
        },
      ],
      retired: [],
      alerts: [],
    });
    // The member pays nothing.
    expect(e.tracker.spend('alice', MARCH)).toBe(0n);

    see(e, 'r2', 'alice', 99_999_999n, 2, 'acme');
    expect(e.decide(time(21))).toEqual(NONE);

    see(e, 'r3', 'alice', 1n, 3, 'acme');
    const fifty = e.decide(time(22));
    expect(fifty.statuses).toEqual([]);
    expect(fifty.alerts).toEqual([
      {
        schemaVersion: 1,
        alertId: 'threshold:2024-03:acme:limit_50',
        type: 'spend_threshold',
        severity: 'info',
        accountId: 'acme',
        message: 'Month-to-date spend reached $0.50, 50% of the spending limit of $1.00',
        details: {
          threshold: 'limit_50',
          month: MARCH,
          thresholdNanoUsd: '500000000',
          spendNanoUsd: '500000000',
          limitNanoUsd: '1000000000',
          grantNanoUsd: '4000000000',
        },
        createdAt: iso(22),
      },
    ]);

    // bob has no snapshot of his own: membership of a team org is all it takes.
    see(e, 'r4', 'bob', 300_000_000n, 4, 'acme');
    const eighty = e.decide(time(23));
    expect(eighty.statuses.map((s) => [s.accountId, s.status, s.spendNanoUsd])).toEqual([
      ['acme', 'warning', '800000000'],
    ]);
    expect(eighty.alerts.map((a) => [a.alertId, a.severity, a.message])).toEqual([
      [
        'threshold:2024-03:acme:limit_80',
        'warning',
        'Month-to-date spend reached $0.80, 80% of the spending limit of $1.00',
      ],
    ]);
    expect(eighty.alerts[0]?.details).toMatchObject({
      thresholdNanoUsd: '800000000',
      spendNanoUsd: '800000000',
    });

    see(e, 'r5', 'alice', 200_000_000n, 5, 'acme');
    const hundred = e.decide(time(24));
    expect(hundred.statuses.map((s) => [s.status, s.spendNanoUsd, s.reason])).toEqual([
      [
        'blocked',
        '1000000000',
        'blocked: month-to-date spend $1.00 has reached the spending limit of $1.00',
      ],
    ]);
    expect(hundred.alerts.map((a) => [a.alertId, a.severity, a.message])).toEqual([
      [
        'threshold:2024-03:acme:limit_100',
        'critical',
        'Month-to-date spend reached the spending limit of $1.00: requests are blocked until the limit is raised or the month ends',
      ],
    ]);

    // Further spend: nothing new.
    see(e, 'r6', 'bob', 500_000_000n, 6, 'acme');
    expect(e.decide(time(25))).toEqual(NONE);
    expect(e.tracker.spend('acme', MARCH)).toBe(1_500_000_000n);
    expect(e.tracker.spend('bob', MARCH)).toBe(0n);
  });

  it('a jump across several thresholds raises all of them in one decide', () => {
    const e = enforcerAt(time(0), historyOf(acme()));
    see(e, 'r1', 'alice', 4_000_000_000n, 1, 'acme');
    const d = e.decide(time(20));
    expect(d.statuses.map((s) => [s.status, s.spendNanoUsd])).toEqual([['blocked', '4000000000']]);
    expect(
      d.alerts.map((a) => [
        a.alertId,
        a.severity,
        a.details.thresholdNanoUsd,
        a.details.spendNanoUsd,
      ]),
    ).toEqual([
      ['threshold:2024-03:acme:limit_50', 'info', '500000000', '4000000000'],
      ['threshold:2024-03:acme:limit_80', 'warning', '800000000', '4000000000'],
      ['threshold:2024-03:acme:limit_100', 'critical', '1000000000', '4000000000'],
      // 2 seats × $2.00; a team org pays as it goes past its credits.
      ['threshold:2024-03:acme:credits_exhausted', 'info', '4000000000', '4000000000'],
    ]);
    expect(d.alerts[3]?.message).toBe(
      "The month's credits of $4.00 are used up; further usage is paid as you go",
    );

    see(e, 'r2', 'alice', 6_000_000_000n, 2, 'acme');
    const ten = e.decide(time(21));
    expect(ten.statuses).toEqual([]);
    expect(ten.alerts.map((a) => [a.alertId, a.message])).toEqual([
      ['threshold:2024-03:acme:spend_10_usd', 'Month-to-date spend passed $10.00'],
    ]);
  });

  it('a raised limit unblocks at once; a lowered one blocks again without a second limit_100', () => {
    const history = historyOf(acme());
    const e = enforcerAt(time(0), history);
    see(e, 'r1', 'alice', 1_500_000_000n, 1, 'acme');
    const blocked = e.decide(time(20));
    expect(blocked.statuses.map((s) => s.status)).toEqual(['blocked']);
    expect(ids(blocked)).toEqual([
      'threshold:2024-03:acme:limit_50',
      'threshold:2024-03:acme:limit_80',
      'threshold:2024-03:acme:limit_100',
    ]);

    // A raise that takes effect later is not in force yet.
    history.add(acme({ limit: '1800000000', effectiveAt: iso(40) }));
    e.factsChanged(['acme']);
    expect(e.decide(time(39))).toEqual(NONE);

    // In force: $1.50 of $1.80 is ≥ 80 %: warning (and no alert, 50/80 already raised).
    e.factsChanged(['acme']);
    const warning = e.decide(time(40));
    expect(warning.alerts).toEqual([]);
    expect(warning.statuses.map((s) => [s.status, s.limitNanoUsd, s.spendNanoUsd])).toEqual([
      ['warning', '1800000000', '1500000000'],
    ]);

    history.add(acme({ limit: 5_000_000_000, effectiveAt: iso(50) }));
    e.factsChanged(['acme']);
    const ok = e.decide(time(50));
    expect(ok.alerts).toEqual([]);
    expect(ok.statuses.map((s) => [s.status, s.limitNanoUsd, s.reason])).toEqual([
      [
        'ok',
        '5000000000',
        'ok: month-to-date spend $1.50 is below 80% of the spending limit of $5.00',
      ],
    ]);

    // Spend reaching 50 % of the new limit: limit_50 already alerted this month.
    see(e, 'r2', 'alice', 1_000_000_000n, 51, 'acme');
    expect(e.decide(time(70))).toEqual(NONE);

    // Lowered below the spend: blocked again, limit_100 not raised twice.
    history.add(acme({ limit: 2_000_000_000, effectiveAt: iso(80) }));
    e.factsChanged(['acme']);
    const again = e.decide(time(80));
    expect(again.alerts).toEqual([]);
    expect(again.statuses.map((s) => [s.status, s.limitNanoUsd, s.spendNanoUsd])).toEqual([
      ['blocked', '2000000000', '2500000000'],
    ]);

    // Limit removed: a team org without a limit pays as it goes.
    history.add(acme({ limit: undefined, effectiveAt: iso(90) }));
    e.factsChanged(['acme']);
    const none = e.decide(time(90));
    expect(none.statuses).toHaveLength(1);
    expect(none.statuses[0]).toMatchObject({ status: 'ok', basis: 'none' });
    expect(none.statuses[0]).not.toHaveProperty('limitNanoUsd');

    // factsChanged with nothing changed: nothing to publish.
    e.factsChanged(['acme']);
    expect(e.decide(time(91))).toEqual(NONE);
  });

  it('a limit of 0 blocks the org at once, with no threshold alert', () => {
    const e = enforcerAt(time(0), historyOf(acme({ limit: 0 })));
    e.factsChanged(['acme']);
    const d = e.decide(time(1));
    expect(d.alerts).toEqual([]);
    expect(d.statuses.map((s) => [s.status, s.spendNanoUsd, s.limitNanoUsd])).toEqual([
      ['blocked', '0', '0'],
    ]);
  });
});

describe('Enforcer: attribution', () => {
  const history = () =>
    historyOf(
      orgSnapshot('acme', {
        members: ['alice'],
        limit: 1_000_000_000,
        effectiveAt: '2024-03-01T00:00:00.000Z',
      }),
      orgSnapshot('acme', {
        members: ['alice', 'dave'],
        limit: 1_000_000_000,
        effectiveAt: iso(30),
      }),
      orgSnapshot('freebie', { plan: 'free', members: ['alice'] }),
      userSnapshot('alice', 'free'),
    );

  it('a non-member naming the org is charged to the user, never the org', () => {
    const e = enforcerAt(time(0), history());
    see(e, 'r1', 'mallory', 60_000_000n, 1, 'acme');
    // Young request of a user never seen: attribution waits, and nobody pays until it answers.
    e.seen(
      { key: 'r2', userId: 'mallory', billTo: 'acme', timestamp: iso(2), estimate: 20_000_000n },
      time(3),
    );
    expect(e.tracker.spend('acme', MARCH)).toBe(0n);
    expect(e.tracker.spend('mallory', MARCH)).toBe(60_000_000n);
    expect(e.waiting).toBe(1);
    // The grace is over by minute 20: the user pays (still never the org).
    const d = e.decide(time(20));
    expect(e.waiting).toBe(0);
    expect(e.tracker.spend('mallory', MARCH)).toBe(80_000_000n);
    expect(d.statuses.map((s) => [s.accountId, s.kind, s.status, s.spendNanoUsd])).toEqual([
      ['mallory', 'user', 'warning', '80000000'],
    ]);
    expect(e.published('acme')).toBeUndefined();
  });

  it('membership and plan are judged at the request time', () => {
    const e = enforcerAt(time(0), history());
    // dave joins at minute 30: his earlier request is his own, his later one the org's.
    see(e, 'before', 'dave', 30_000_000n, 29, 'acme');
    see(e, 'after', 'dave', 40_000_000n, 31, 'acme');
    // A free org never pays.
    see(e, 'free', 'alice', 5_000_000n, 32, 'freebie');
    // An unknown org: the user pays.
    see(e, 'unknown', 'alice', 6_000_000n, 33, 'nosuchorg');
    expect(e.tracker.spend('dave', MARCH)).toBe(30_000_000n);
    expect(e.tracker.spend('acme', MARCH)).toBe(40_000_000n);
    expect(e.tracker.spend('alice', MARCH)).toBe(11_000_000n);
    expect(e.tracker.spend('freebie', MARCH)).toBe(0n);
    const d = byAccount(e.decide(time(60)));
    expect([...d.keys()].sort()).toEqual(['acme', 'alice', 'dave']);
    expect(d.get('acme')?.spendNanoUsd).toBe('40000000');
    expect(d.get('alice')?.spendNanoUsd).toBe('11000000');
  });
});

describe('Enforcer: real costs replace estimates', () => {
  it('a lower real cost moves the spend down: blocked → warning → ok', () => {
    const e = enforcerAt(time(0));
    see(e, 'r1', 'zoe', 60_000_000n, 1);
    see(e, 'r2', 'zoe', 40_000_000n, 2);
    const blocked = e.decide(time(20));
    expect(blocked.statuses.map((s) => s.status)).toEqual(['blocked']);
    expect(ids(blocked)).toEqual(['threshold:2024-03:zoe:credits_exhausted']);

    e.priced({ key: 'r2', billedAccount: 'zoe', month: MARCH, cost: 25_000_000n, pricedAtMs: 1 });
    const warning = e.decide(time(21));
    expect(warning.alerts).toEqual([]);
    expect(
      warning.statuses.map((s) => [
        s.status,
        s.spendNanoUsd,
        s.pricedNanoUsd,
        s.estimatedNanoUsd,
        s.limitNanoUsd,
      ]),
    ).toEqual([['warning', '85000000', '25000000', '60000000', '100000000']]);

    // A redelivered price with another amount is ignored.
    e.priced({ key: 'r2', billedAccount: 'zoe', month: MARCH, cost: 99_000_000n, pricedAtMs: 2 });
    expect(e.decide(time(22))).toEqual(NONE);
    // An estimate arriving after the price is ignored too.
    see(e, 'r2', 'zoe', 99_000_000n, 3);
    expect(e.decide(time(23))).toEqual(NONE);

    e.priced({ key: 'r1', billedAccount: 'zoe', month: MARCH, cost: 50_000_000n, pricedAtMs: 3 });
    const ok = e.decide(time(24));
    expect(ok.alerts).toEqual([]);
    expect(
      ok.statuses.map((s) => [s.status, s.spendNanoUsd, s.pricedNanoUsd, s.estimatedNanoUsd]),
    ).toEqual([['ok', '75000000', '75000000', '0']]);

    // Back up to the credits: blocked again, but credits_exhausted was already raised.
    e.priced({ key: 'r3', billedAccount: 'zoe', month: MARCH, cost: 25_000_000n, pricedAtMs: 4 });
    const again = e.decide(time(25));
    expect(again.alerts).toEqual([]);
    expect(again.statuses.map((s) => [s.status, s.spendNanoUsd])).toEqual([
      ['blocked', '100000000'],
    ]);
  });

  it('a real cost billed to another account moves the spend between accounts', () => {
    const history = historyOf(
      orgSnapshot('acme', { members: ['carol'], limit: 100_000_000 }),
      userSnapshot('carol', 'free'),
    );
    const e = enforcerAt(time(0), history);
    see(e, 'r1', 'carol', 90_000_000n, 1);
    expect(e.decide(time(20)).statuses.map((s) => [s.accountId, s.status])).toEqual([
      ['carol', 'warning'],
    ]);

    // The ledger says acme pays (e.g. a snapshot that arrived late).
    e.priced({ key: 'r1', billedAccount: 'acme', month: MARCH, cost: 95_000_000n, pricedAtMs: 1 });
    expect(e.tracker.spend('carol', MARCH)).toBe(0n);
    expect(e.tracker.spend('acme', MARCH)).toBe(95_000_000n);
    const d = e.decide(time(21));
    const statuses = byAccount(d);
    expect(statuses.size).toBe(2);
    expect(statuses.get('carol')).toMatchObject({
      status: 'ok',
      spendNanoUsd: '0',
      pricedNanoUsd: '0',
      estimatedNanoUsd: '0',
    });
    expect(statuses.get('acme')).toMatchObject({
      kind: 'org',
      status: 'warning',
      basis: 'spending_limit',
      spendNanoUsd: '95000000',
      pricedNanoUsd: '95000000',
      limitNanoUsd: '100000000',
    });
    expect(ids(d)).toEqual(['threshold:2024-03:acme:limit_50', 'threshold:2024-03:acme:limit_80']);
  });
});

describe('Enforcer: start-up', () => {
  it('counts the ledger sums of the month, not of earlier months', () => {
    const e = enforcerAt(time(0));
    e.pricedSum('zoe', '2024-02', 500_000_000n);
    expect(e.decide(time(1))).toEqual(NONE);
    e.pricedSum('zoe', MARCH, 95_000_000n);
    e.pricedSum('nobody', MARCH, 0n);
    const d = e.decide(time(1));
    expect(d.alerts).toEqual([]);
    expect(
      d.statuses.map((s) => [
        s.accountId,
        s.status,
        s.spendNanoUsd,
        s.pricedNanoUsd,
        s.estimatedNanoUsd,
      ]),
    ).toEqual([['zoe', 'warning', '95000000', '95000000', '0']]);
    // Estimates add to it.
    see(e, 'r1', 'zoe', 5_000_000n, 1);
    const blocked = e.decide(time(20));
    expect(blocked.statuses.map((s) => [s.status, s.pricedNanoUsd, s.estimatedNanoUsd])).toEqual([
      ['blocked', '95000000', '5000000'],
    ]);
    expect(ids(blocked)).toEqual(['threshold:2024-03:zoe:credits_exhausted']);
  });

  it('alerts already raised (loadAlerted) are not raised again', () => {
    const e = enforcerAt(time(0));
    e.loadAlerted([
      'threshold:2024-03:zoe:credits_exhausted',
      'threshold:2024-03:zoe:spend_10_usd',
    ]);
    e.pricedSum('zoe', MARCH, 10_000_000_000n);
    const d = e.decide(time(1));
    expect(d.alerts).toEqual([]);
    expect(d.statuses.map((s) => s.status)).toEqual(['blocked']);
    // Only the ones loaded: $100 still alerts.
    e.pricedSum('zoe', MARCH, 90_000_000_000n);
    expect(ids(e.decide(time(2)))).toEqual(['threshold:2024-03:zoe:spend_100_usd']);
  });

  it('a status found on the topic is not published again when it still holds', () => {
    const before = enforcerAt(time(0));
    before.pricedSum('zoe', MARCH, 100_000_000n);
    const first = before.decide(time(1));
    const published = first.statuses[0] as StatusMessage;
    expect(published.status).toBe('blocked');

    // A restart: the ledger has grown a little since, the status is the same.
    const e = enforcerAt(time(10));
    e.loadPublished(published);
    e.loadAlerted(ids(first));
    e.pricedSum('zoe', MARCH, 120_000_000n);
    expect(e.decide(time(11))).toEqual(NONE);
    expect(e.published('zoe')).toBe(published);
  });

  it('a status found on the topic is published again when it no longer holds', () => {
    const base: StatusMessage = {
      schemaVersion: 1,
      accountId: 'zoe',
      kind: 'user',
      plan: 'free',
      month: MARCH,
      status: 'blocked',
      reason: "blocked: month-to-date spend $0.10 has reached the month's credits of $0.10",
      basis: 'credits',
      spendNanoUsd: '100000000',
      pricedNanoUsd: '100000000',
      estimatedNanoUsd: '0',
      limitNanoUsd: '100000000',
      disabledProviders: [],
      updatedAt: iso(0),
    };

    // Of an earlier month: published again for this month, even though it is the same status.
    const e1 = enforcerAt(time(10));
    e1.loadPublished({ ...base, month: '2024-02' });
    e1.pricedSum('zoe', MARCH, 100_000_000n);
    const d1 = e1.decide(time(11));
    expect(d1.statuses.map((s) => [s.month, s.status, s.spendNanoUsd, s.updatedAt])).toEqual([
      [MARCH, 'blocked', '100000000', iso(11)],
    ]);

    // Blocked on the topic, no spend in the ledger any more: ok is published (the loaded status
    // alone makes the account reviewed).
    const e2 = enforcerAt(time(10));
    e2.loadPublished(base);
    const d2 = e2.decide(time(11));
    expect(d2.statuses.map((s) => [s.status, s.spendNanoUsd])).toEqual([['ok', '0']]);
    expect(d2.alerts).toEqual([]);
  });
});

describe('Enforcer: unpublished decisions', () => {
  it('are decided again, with the same statuses and alert ids', () => {
    const e = enforcerAt(
      time(0),
      historyOf(orgSnapshot('acme', { members: ['alice'], limit: 200_000_000 })),
    );
    see(e, 'r1', 'zoe', 100_000_000n, 1);
    see(e, 'r2', 'alice', 200_000_000n, 2, 'acme');
    const d1 = e.decide(time(20));
    expect(d1.statuses.map((s) => [s.accountId, s.status]).sort()).toEqual([
      ['acme', 'blocked'],
      ['zoe', 'blocked'],
    ]);
    expect(ids(d1).sort()).toEqual([
      'threshold:2024-03:acme:limit_100',
      'threshold:2024-03:acme:limit_50',
      'threshold:2024-03:acme:limit_80',
      'threshold:2024-03:zoe:credits_exhausted',
    ]);

    e.unpublished(d1);
    expect(e.published('zoe')).toBeUndefined();
    expect(e.published('acme')).toBeUndefined();
    const d2 = e.decide(time(20));
    expect(d2).toEqual(d1);

    // Published this time: nothing left to do.
    expect(e.decide(time(21))).toEqual(NONE);
  });

  it('a status that failed to publish is retried even though the previous one differed', () => {
    const e = enforcerAt(time(0));
    see(e, 'r1', 'zoe', 80_000_000n, 1);
    expect(e.decide(time(20)).statuses.map((s) => s.status)).toEqual(['warning']);
    see(e, 'r2', 'zoe', 20_000_000n, 2);
    const d1 = e.decide(time(21));
    expect(d1.statuses.map((s) => s.status)).toEqual(['blocked']);
    e.unpublished(d1);
    const d2 = e.decide(time(22));
    expect(d2.statuses.map((s) => [s.status, s.spendNanoUsd])).toEqual([['blocked', '100000000']]);
    expect(ids(d2)).toEqual(['threshold:2024-03:zoe:credits_exhausted']);
  });

  it('an alert handed back alone is raised again', () => {
    const e = enforcerAt(time(0));
    see(e, 'r1', 'zoe', 100_000_000n, 1);
    const d1 = e.decide(time(20));
    e.unpublished({ statuses: [], retired: [], alerts: d1.alerts });
    expect(e.decide(time(21))).toEqual({
      statuses: [],
      retired: [],
      alerts: [{ ...d1.alerts[0], createdAt: iso(21) }],
    });
  });
});

describe('Enforcer: accounts that pay as they go are never blocked', () => {
  it('a PRO user: ok with basis none, and the PRO alerts', () => {
    const e = enforcerAt(time(0), historyOf(userSnapshot('bob', 'pro')));
    see(e, 'r1', 'bob', 1_999_999_999n, 1);
    expect(e.decide(time(20))).toEqual({
      statuses: [
        {
          schemaVersion: 1,
          accountId: 'bob',
          kind: 'user',
          plan: 'pro',
          month: MARCH,
          status: 'ok',
          reason: 'ok: PRO users pay as they go; month-to-date spend $1.999999999 is not limited',
          basis: 'none',
          spendNanoUsd: '1999999999',
          pricedNanoUsd: '0',
          estimatedNanoUsd: '1999999999',
          disabledProviders: [],
          updatedAt: iso(20),
        },
      ],
      retired: [],
      alerts: [],
    });

    see(e, 'r2', 'bob', 1n, 2);
    const credits = e.decide(time(21));
    expect(credits.statuses).toEqual([]);
    expect(credits.alerts.map((a) => [a.alertId, a.severity, a.message, a.details])).toEqual([
      [
        'threshold:2024-03:bob:credits_exhausted',
        'info',
        "The month's credits of $2.00 are used up; further usage is paid as you go",
        {
          threshold: 'credits_exhausted',
          month: MARCH,
          thresholdNanoUsd: '2000000000',
          spendNanoUsd: '2000000000',
          grantNanoUsd: '2000000000',
        },
      ],
      [
        'threshold:2024-03:bob:pay_as_you_go_started',
        'info',
        'Credits of $2.00 used up: you now pay as you go for further usage this month',
        {
          threshold: 'pay_as_you_go_started',
          month: MARCH,
          thresholdNanoUsd: '2000000000',
          spendNanoUsd: '2000000000',
          grantNanoUsd: '2000000000',
        },
      ],
    ]);

    see(e, 'r3', 'bob', 8_000_000_000n, 3);
    const ten = e.decide(time(22));
    expect(ten.statuses).toEqual([]);
    expect(ids(ten)).toEqual(['threshold:2024-03:bob:spend_10_usd']);

    see(e, 'r4', 'bob', 990_000_000_000n, 4);
    const thousand = e.decide(time(23));
    expect(thousand.statuses).toEqual([]);
    expect(thousand.alerts.map((a) => [a.alertId, a.details.thresholdNanoUsd])).toEqual([
      ['threshold:2024-03:bob:spend_100_usd', '100000000000'],
      ['threshold:2024-03:bob:spend_1000_usd', '1000000000000'],
    ]);
    expect(e.published('bob')).toMatchObject({
      status: 'ok',
      basis: 'none',
      spendNanoUsd: '1999999999',
    });
    expect(e.tracker.spend('bob', MARCH)).toBe(1_000_000_000_000n);
  });

  it('a team org without a limit: ok with basis none, credits_exhausted but no pay_as_you_go_started', () => {
    const e = enforcerAt(time(0), historyOf(orgSnapshot('beta', { seats: 1, members: ['carol'] })));
    see(e, 'r1', 'carol', 12_000_000_000n, 1, 'beta');
    const d = e.decide(time(20));
    expect(d.statuses).toHaveLength(1);
    expect(d.statuses[0]).toMatchObject({
      accountId: 'beta',
      kind: 'org',
      plan: 'team',
      status: 'ok',
      basis: 'none',
      reason:
        'ok: no spending limit set; month-to-date spend $12.00, usage past the credits is paid as you go',
      spendNanoUsd: '12000000000',
    });
    expect(d.statuses[0]).not.toHaveProperty('limitNanoUsd');
    expect(d.alerts.map((a) => [a.alertId, a.severity, a.details])).toEqual([
      [
        'threshold:2024-03:beta:credits_exhausted',
        'info',
        {
          threshold: 'credits_exhausted',
          month: MARCH,
          thresholdNanoUsd: '2000000000',
          spendNanoUsd: '12000000000',
          grantNanoUsd: '2000000000',
        },
      ],
      [
        'threshold:2024-03:beta:spend_10_usd',
        'info',
        {
          threshold: 'spend_10_usd',
          month: MARCH,
          thresholdNanoUsd: '10000000000',
          spendNanoUsd: '12000000000',
          grantNanoUsd: '2000000000',
        },
      ],
    ]);
  });
});

describe('Enforcer: disabled providers', () => {
  it('are carried sorted on the status, and a change is published', () => {
    const acme = (disabledProviders: string[] | undefined, minutes: number) =>
      orgSnapshot('acme', {
        members: ['alice'],
        limit: 1_000_000_000,
        disabledProviders,
        effectiveAt: iso(minutes),
      });
    const history = historyOf(acme(['together', 'fal-ai', 'nebius', 'fal-ai'], -60));
    const e = enforcerAt(time(0), history);

    // Facts alone (no spend yet) publish the status, so the router learns the providers.
    e.factsChanged(['acme']);
    const first = e.decide(time(1));
    expect(
      first.statuses.map((s) => [s.accountId, s.status, s.spendNanoUsd, s.disabledProviders]),
    ).toEqual([['acme', 'ok', '0', ['fal-ai', 'nebius', 'together']]]);

    history.add(acme(['together', 'fal-ai'], 10));
    e.factsChanged(['acme']);
    expect(e.decide(time(10)).statuses.map((s) => s.disabledProviders)).toEqual([
      ['fal-ai', 'together'],
    ]);

    // The same set in another order: no change.
    history.add(acme(['fal-ai', 'together'], 20));
    e.factsChanged(['acme']);
    expect(e.decide(time(20))).toEqual(NONE);

    // Same length, other provider: a change.
    history.add(acme(['fal-ai', 'groq'], 30));
    e.factsChanged(['acme']);
    expect(e.decide(time(30)).statuses.map((s) => s.disabledProviders)).toEqual([
      ['fal-ai', 'groq'],
    ]);

    // None at all.
    history.add(acme(undefined, 40));
    e.factsChanged(['acme']);
    expect(e.decide(time(40)).statuses.map((s) => s.disabledProviders)).toEqual([[]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random estimates, prices, limit changes, failed publications and rollovers.

const USERS = ['alice', 'bob', 'carol'] as const;
const ORGS = ['acme', 'beta', 'gamma'] as const;
const ACCOUNTS = [...USERS, ...ORGS] as const;
type AccountId = (typeof ACCOUNTS)[number];

/** The static facts of the property's accounts (acme's limit changes, tracked apart). */
const FACTS: Record<
  AccountId,
  { kind: 'user' | 'org'; plan: string; grant: bigint; payAsYouGo: boolean; disabled?: string[] }
> = {
  alice: { kind: 'user', plan: 'free', grant: 100_000_000n, payAsYouGo: false },
  bob: { kind: 'user', plan: 'pro', grant: 2_000_000_000n, payAsYouGo: true },
  carol: { kind: 'user', plan: 'free', grant: 100_000_000n, payAsYouGo: false }, // no snapshot
  acme: { kind: 'org', plan: 'team', grant: 4_000_000_000n, payAsYouGo: true },
  beta: {
    kind: 'org',
    plan: 'team',
    grant: 2_000_000_000n,
    payAsYouGo: true,
    disabled: ['z-provider', 'a-provider'],
  },
  gamma: { kind: 'org', plan: 'free', grant: 0n, payAsYouGo: false },
};
const MEMBERS: Record<string, readonly string[]> = {
  acme: ['alice', 'bob'],
  beta: ['carol'],
  gamma: ['alice', 'bob', 'carol'],
};

type Op =
  | { op: 'seen'; key: number; user: number; billTo: number | null; nano: bigint; old: boolean }
  | { op: 'priced'; key: number; account: number; nano: bigint; old: boolean }
  | { op: 'decide'; fail: boolean }
  | { op: 'limit'; nano: bigint | null }
  | { op: 'rollover' };

const amount = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt(0n, 120_000_000n) },
  { weight: 1, arbitrary: fc.bigInt(0n, 12_000_000_000n) },
);
/** A late request of the previous month, one time in five. */
const rarely = fc.nat(4).map((n) => n === 0);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('seen' as const),
      key: fc.nat(11),
      user: fc.nat(USERS.length - 1),
      billTo: fc.option(fc.nat(ORGS.length - 1)),
      nano: amount,
      old: rarely,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('priced' as const),
      key: fc.nat(11),
      account: fc.nat(ACCOUNTS.length - 1),
      nano: amount,
      old: rarely,
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('decide' as const), fail: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('limit' as const),
      nano: fc.option(fc.bigInt(0n, 400_000_000n)),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'rollover' as const }) },
);

function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
function monthKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

describe('Enforcer: property', () => {
  it('alerts at most once; the last published status matches the final spend', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const start = Date.parse('2024-03-10T00:00:00.000Z');
        const acmeSnapshot = (limit: bigint | null, at: number) =>
          orgSnapshot('acme', {
            seats: 2,
            members: [...MEMBERS.acme!],
            ...(limit === null ? {} : { limit: limit.toString() }),
            effectiveAt: new Date(at).toISOString(),
          });
        const history = historyOf(
          userSnapshot('alice', 'free'),
          userSnapshot('bob', 'pro'),
          acmeSnapshot(300_000_000n, Date.parse('2024-01-01T00:00:00.000Z')),
          orgSnapshot('beta', {
            seats: 1,
            members: [...MEMBERS.beta!],
            disabledProviders: FACTS.beta.disabled,
          }),
          orgSnapshot('gamma', { plan: 'free', members: [...MEMBERS.gamma!] }),
        );
        let clock = start;
        let acmeLimit: bigint | null = 300_000_000n;
        const e = new Enforcer(new Date(clock), { history, graceMs: GRACE_MS });

        // The model: what each request contributes, like the ledger would say.
        let floor = monthKey(clock);
        const contributions = new Map<
          string,
          { account: string; month: string; nano: bigint; priced: boolean }
        >();
        const alertCount = new Map<string, number>();
        const lastPublished = new Map<string, StatusMessage>();
        const keep = (d: Decisions) => {
          for (const a of d.alerts) {
            alertCount.set(a.alertId, (alertCount.get(a.alertId) ?? 0) + 1);
            // An alert is raised at a spend that reached its threshold.
            expect(BigInt(a.details.spendNanoUsd as string)).toBeGreaterThanOrEqual(
              BigInt(a.details.thresholdNanoUsd as string),
            );
          }
          for (const s of d.statuses) lastPublished.set(s.accountId, s);
          // A retired status is a tombstone: the account has none (ok) from then on.
          for (const s of d.retired) lastPublished.delete(s.accountId);
        };

        for (const op of ops) {
          clock += MIN;
          switch (op.op) {
            case 'seen': {
              // A request that finished 10 minutes ago, or one from the previous month.
              const ts = op.old ? monthStart(clock) - 3_600_000 : clock - 10 * MIN;
              const month = monthKey(ts);
              const key = `${month}/r${op.key}`;
              const userId = USERS[op.user]!;
              const billTo = op.billTo === null ? undefined : ORGS[op.billTo]!;
              e.seen(
                { key, userId, billTo, timestamp: new Date(ts).toISOString(), estimate: op.nano },
                new Date(clock),
              );
              const payer =
                billTo !== undefined && billTo !== 'gamma' && MEMBERS[billTo]!.includes(userId)
                  ? billTo
                  : userId;
              if (month >= floor && !contributions.has(key)) {
                contributions.set(key, { account: payer, month, nano: op.nano, priced: false });
              }
              break;
            }
            case 'priced': {
              const month = op.old ? monthKey(monthStart(clock) - 1) : monthKey(clock);
              const key = `${month}/r${op.key}`;
              const account = ACCOUNTS[op.account]!;
              e.priced({ key, billedAccount: account, month, cost: op.nano, pricedAtMs: clock });
              if (month >= floor && contributions.get(key)?.priced !== true) {
                contributions.set(key, { account, month, nano: op.nano, priced: true });
              }
              break;
            }
            case 'decide': {
              const d = e.decide(new Date(clock));
              if (op.fail) e.unpublished(d);
              else keep(d);
              break;
            }
            case 'limit': {
              acmeLimit = op.nano;
              history.add(acmeSnapshot(op.nano, clock));
              e.factsChanged(['acme']);
              break;
            }
            case 'rollover': {
              clock = nextMonthStart(clock) + 24 * 3_600_000;
              expect(e.rollover(new Date(clock))).toBe(true);
              floor = monthKey(clock);
              for (const [key, c] of contributions) if (c.month < floor) contributions.delete(key);
              break;
            }
          }
        }
        clock += MIN;
        keep(e.decide(new Date(clock)));
        const month = e.month;
        expect(month).toBe(floor);

        // (a) each alert id at most once over everything published.
        for (const [alertId, count] of alertCount) expect([alertId, count]).toEqual([alertId, 1]);

        for (const id of ACCOUNTS) {
          let spend = 0n;
          for (const c of contributions.values()) {
            if (c.account === id && c.month === month) spend += c.nano;
          }
          expect(e.tracker.spend(id, month)).toBe(spend);

          const facts = FACTS[id];
          const limit = id === 'acme' && acmeLimit !== null ? acmeLimit : undefined;
          const expected = accountStatus({
            kind: facts.kind,
            plan: facts.plan,
            grant: facts.grant,
            limit,
            spend,
            disabledProviders: facts.disabled,
          });
          const published = e.published(id);
          // What the enforcer remembers is what was really published last.
          expect(published).toEqual(lastPublished.get(id));
          if (published === undefined) {
            // Never published, or retired: no spend this month (a status would be ok anyway).
            expect(spend).toBe(0n);
            expect(expected.status).toBe('ok');
          } else {
            // (b) the last status published is the one the final spend gives.
            expect({
              month: published.month,
              kind: published.kind,
              plan: published.plan,
              status: published.status,
              basis: published.basis,
              limit: published.limitNanoUsd,
              disabledProviders: published.disabledProviders,
            }).toEqual({
              month,
              kind: facts.kind,
              plan: facts.plan,
              status: expected.status,
              basis: expected.basis,
              limit: expected.limit?.toString(),
              disabledProviders: expected.disabledProviders,
            });
          }

          // (c) every threshold the final spend has reached has alerted this month.
          const context = {
            kind: facts.kind,
            plan: facts.plan,
            grant: facts.grant,
            limit,
            payAsYouGo: facts.payAsYouGo,
          };
          for (const crossing of thresholdCrossings(0n, spend, context)) {
            expect(alertCount.get(alertKey(id, month, crossing.kind))).toBe(1);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Enforcer: one bad account never stops the others (issue 13)', () => {
  it('an account whose decision throws is reported once; the others are decided', () => {
    // Facts that cannot be read for one account (any rule that throws: a corrupt history, a
    // credits rule refusing it): the other accounts must not notice.
    class CorruptFor extends AccountHistory {
      override at(accountId: string, t: Date | number) {
        if (accountId === 'flip') throw new RangeError('corrupt facts for flip');
        return super.at(accountId, t);
      }
    }
    const failures: string[] = [];
    const e = new Enforcer(time(0), {
      history: new CorruptFor(),
      graceMs: GRACE_MS,
      onAccountFailure: (accountId, error) =>
        failures.push(`${accountId}: ${(error as Error).message}`),
    });
    e.pricedSum('flip', MARCH, 5n);
    see(e, 'r1', 'zoe', 100_000_000n, 1);
    const d = e.decide(time(20));
    expect(d.statuses.map((s) => [s.accountId, s.status])).toEqual([['zoe', 'blocked']]);
    expect(d.alerts.map((a) => [a.alertId, a.type, a.accountId])).toEqual([
      ['account_decision_failed:2024-03:flip', 'account_decision_failed', 'flip'],
      ['threshold:2024-03:zoe:credits_exhausted', 'spend_threshold', 'zoe'],
    ]);
    expect(failures).toEqual(['flip: corrupt facts for flip']);
    // Tried again when its spend moves; reported again, alerted once per month.
    e.pricedSum('flip', MARCH, 5n);
    expect(e.decide(time(21))).toEqual(NONE);
    expect(failures).toHaveLength(2);
  });
});

describe('Enforcer: statuses of idle accounts retire at the month turn (issue 13)', () => {
  it('ok and idle: a tombstone; disabled providers or April activity: republished', () => {
    const history = historyOf(
      orgSnapshot('beta', { members: ['bob'], disabledProviders: ['groq'] }),
      userSnapshot('zoe', 'free'),
      userSnapshot('amy', 'free'),
    );
    const e = enforcerAt(time(0), history);
    see(e, 'z1', 'zoe', 1n, 1);
    see(e, 'a1', 'amy', 1n, 1);
    e.factsChanged(['beta']);
    const march = byAccount(e.decide(time(20)));
    expect([...march.keys()].sort()).toEqual(['amy', 'beta', 'zoe']);
    // amy's first April request is seen just before the turn is noticed.
    e.seen(
      { key: 'a2', userId: 'amy', timestamp: '2024-04-01T00:00:00.000Z', estimate: 2n },
      new Date('2024-04-01T00:10:00.000Z'),
    );
    e.rollover(new Date('2024-04-01T00:10:00.000Z'));
    const april = e.decide(new Date('2024-04-01T00:10:00.000Z'));
    expect(april.retired).toEqual([march.get('zoe')]);
    const republished = april.statuses.map((s) => [s.accountId, s.month, s.status, s.spendNanoUsd]);
    expect(republished.sort()).toEqual([
      ['amy', APRIL, 'ok', '2'],
      ['beta', APRIL, 'ok', '0'],
    ]);
    expect(e.published('zoe')).toBeUndefined();
    // Handed back unsent: retired again at the next decide.
    e.unpublished(april);
    expect(e.decide(new Date('2024-04-01T00:11:00.000Z')).retired).toEqual([march.get('zoe')]);
  });
});
