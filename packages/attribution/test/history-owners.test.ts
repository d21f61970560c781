import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AccountSnapshot, OrgSettings } from '@nanobill/contract';
import { AccountHistory, type SnapshotOrigin } from '../src/index.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (minutes: number) => new Date(T0 + minutes * MIN).toISOString();

function org(minutes: number, members: string[], extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    accountId: 'acme',
    kind: 'org',
    plan: 'team',
    effectiveAt: iso(minutes),
    seats: 2,
    members,
    ...extra,
  } as AccountSnapshot;
}
function user(minutes: number, accountId = 'acme'): AccountSnapshot {
  return { schemaVersion: 1, accountId, kind: 'user', plan: 'pro', effectiveAt: iso(minutes) };
}
function settings(minutes: number, fields: Record<string, unknown>): OrgSettings {
  return {
    schemaVersion: 1,
    source: 'admin',
    accountId: 'acme',
    effectiveAt: iso(minutes),
    ...fields,
  } as OrgSettings;
}

type Message = { snapshot: AccountSnapshot; origin?: SnapshotOrigin } | { settings: OrgSettings };
function historyOf(...messages: Message[]): AccountHistory {
  const history = new AccountHistory();
  for (const m of messages) {
    if ('settings' in m) history.addSettings(m.settings);
    else history.add(m.snapshot, m.origin);
  }
  return history;
}
const at = (history: AccountHistory, minutes: number) => history.at('acme', T0 + minutes * MIN);

describe('AccountHistory: one kind per account', () => {
  it('a snapshot flipping the kind is set aside, whatever the order it arrives in', () => {
    const first = org(0, ['alice']);
    const flip = user(10);
    for (const history of [
      historyOf({ snapshot: first }, { snapshot: flip }),
      historyOf({ snapshot: flip }, { snapshot: first }),
    ]) {
      expect(at(history, 20)).toEqual(first);
      expect(history.history('acme')).toEqual([first]);
      expect(history.ignored('acme')).toEqual([flip]);
      expect(history.isMember('acme', 'alice', T0 + 20 * MIN)).toBe(true);
    }
  });

  it('the kind of the earliest snapshot holds, even when it arrives last', () => {
    const later = org(10, ['alice']);
    const earliest = user(0);
    const history = historyOf({ snapshot: later }, { snapshot: user(20) }, { snapshot: earliest });
    expect(history.history('acme').map((s) => s.kind)).toEqual(['user', 'user']);
    expect(history.ignored('acme')).toEqual([later]);
    expect(at(history, 15)).toEqual(earliest);
  });
});

describe('AccountHistory: facts have owners', () => {
  it('a settings save during lag does not revert a membership change from the hub', () => {
    // The hub adds bob at minute 10; the admin, whose view still lacked it, sets a limit at 11.
    const history = historyOf(
      { snapshot: org(0, ['alice']) },
      { settings: settings(11, { spendingLimitNanoUsd: '5000' }) },
      { snapshot: org(10, ['alice', 'bob']) },
    );
    expect(at(history, 12)).toMatchObject({
      members: ['alice', 'bob'],
      spendingLimitNanoUsd: '5000',
    });
    expect(history.isMember('acme', 'bob', T0 + 12 * MIN)).toBe(true);
    expect(at(history, 10.5)).not.toHaveProperty('spendingLimitNanoUsd');
    expect(at(history, 12)?.effectiveAt).toBe(iso(11));
  });

  it("a hub snapshot omitting (or carrying) the admin's fields changes none of them", () => {
    const history = historyOf(
      { snapshot: org(0, ['alice'], { spendingLimitNanoUsd: 1 }) },
      {
        settings: settings(5, {
          spendingLimitNanoUsd: '7000',
          disabledProviders: ['groq'],
          alertWebhookUrl: 'https://hooks.acme.example/a',
        }),
      },
      { snapshot: org(10, ['alice', 'bob']) },
      {
        snapshot: org(20, ['bob'], {
          spendingLimitNanoUsd: 99,
          alertWebhookUrl: 'https://x.example/b',
        }),
      },
    );
    for (const minutes of [10, 20, 30]) {
      expect(at(history, minutes)).toMatchObject({
        spendingLimitNanoUsd: '7000',
        disabledProviders: ['groq'],
        alertWebhookUrl: 'https://hooks.acme.example/a',
      });
    }
    expect(at(history, 30)?.members).toEqual(['bob']);
    // Before the admin's first setting, the hub's snapshot was the only word on it (a seed).
    expect(at(history, 1)?.spendingLimitNanoUsd).toBe(1);
  });

  it('a setting sets only its own fields; null and [] remove them', () => {
    const history = historyOf(
      { snapshot: org(0, ['alice']) },
      {
        settings: settings(1, {
          spendingLimitNanoUsd: '10',
          alertWebhookUrl: 'https://h.example/x',
        }),
      },
      { settings: settings(2, { disabledProviders: ['groq'] }) },
      { settings: settings(3, { spendingLimitNanoUsd: null, disabledProviders: [] }) },
    );
    expect(at(history, 2)).toMatchObject({
      spendingLimitNanoUsd: '10',
      disabledProviders: ['groq'],
      alertWebhookUrl: 'https://h.example/x',
    });
    const after = at(history, 3);
    expect(after).not.toHaveProperty('spendingLimitNanoUsd');
    expect(after).not.toHaveProperty('disabledProviders');
    expect(after?.alertWebhookUrl).toBe('https://h.example/x');
    expect(history.lastSetAt('acme', 'spendingLimitNanoUsd')).toBe(T0 + 3 * MIN);
    expect(history.lastSetAt('acme', 'alertWebhookUrl')).toBe(T0 + 1 * MIN);
  });

  it('settings without a hub snapshot in force give no facts; settings never make an account known', () => {
    const history = historyOf({ settings: settings(0, { spendingLimitNanoUsd: '1' }) });
    expect(history.has('acme')).toBe(false);
    expect(at(history, 10)).toBeUndefined();
  });

  it('legacy snapshots (stored before owners) carried the settings of their time', () => {
    // The old API republished the whole snapshot with the limit; then cleared it the same way.
    const set = historyOf(
      { snapshot: org(0, ['alice']), origin: 'legacy' },
      { snapshot: org(5, ['alice'], { spendingLimitNanoUsd: '300' }), origin: 'legacy' },
      { snapshot: org(10, ['alice', 'bob']) },
    );
    expect(at(set, 20)).toMatchObject({ members: ['alice', 'bob'], spendingLimitNanoUsd: '300' });
    const cleared = historyOf(
      { snapshot: org(5, ['alice'], { spendingLimitNanoUsd: '300' }), origin: 'legacy' },
      { snapshot: org(6, ['alice']), origin: 'legacy' },
      { snapshot: org(10, ['alice', 'bob'], { spendingLimitNanoUsd: '1' }) },
    );
    expect(at(cleared, 5)?.spendingLimitNanoUsd).toBe('300');
    expect(at(cleared, 20)).not.toHaveProperty('spendingLimitNanoUsd');
    // A setting of the admin beats the legacy snapshots from its instant on.
    cleared.addSettings(settings(30, { spendingLimitNanoUsd: '42' }));
    expect(at(cleared, 31)?.spendingLimitNanoUsd).toBe('42');
    expect(at(cleared, 29)).not.toHaveProperty('spendingLimitNanoUsd');
  });

  it("a user's alert webhook is the hub's: a legacy row never freezes it", () => {
    const withHook = (minutes: number, url?: string) =>
      ({
        ...user(minutes),
        ...(url === undefined ? {} : { alertWebhookUrl: url }),
      }) as AccountSnapshot;
    const changed = historyOf(
      { snapshot: withHook(0, 'https://old.example.com/hook'), origin: 'legacy' },
      { snapshot: withHook(10, 'https://new.example.com/hook') },
    );
    expect(at(changed, 20)?.alertWebhookUrl).toBe('https://new.example.com/hook');
    expect(at(changed, 5)?.alertWebhookUrl).toBe('https://old.example.com/hook');
    const removed = historyOf(
      { snapshot: withHook(0, 'https://old.example.com/hook'), origin: 'legacy' },
      { snapshot: withHook(10) },
    );
    expect(at(removed, 20)).not.toHaveProperty('alertWebhookUrl');
  });

  it('a snapshot stored both before and after the mark (a replay) counts as legacy, either order', () => {
    const legacy = org(5, ['alice'], { spendingLimitNanoUsd: '300' });
    const later = org(10, ['alice', 'bob']);
    for (const order of [
      [{ snapshot: legacy, origin: 'legacy' as const }, { snapshot: legacy }],
      [{ snapshot: legacy }, { snapshot: legacy, origin: 'legacy' as const }],
    ]) {
      const history = historyOf(...order, { snapshot: later });
      expect(at(history, 20)?.spendingLimitNanoUsd).toBe('300');
      expect(history.size).toBe(2);
    }
  });

  it('without settings or legacy snapshots the hub snapshot in force is answered as it is', () => {
    const v1 = org(0, ['alice'], { spendingLimitNanoUsd: 5 });
    const v2 = org(10, ['alice']);
    const history = historyOf({ snapshot: v1 }, { snapshot: v2 });
    expect(at(history, 5)).toBe(v1);
    expect(at(history, 15)).toBe(v2);
  });
});

describe('AccountHistory: properties', () => {
  const minutes = fc.integer({ min: 0, max: 30 });
  const hub = fc.record({
    minutes,
    members: fc.subarray(['alice', 'bob', 'carol']),
    limit: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    kind: fc.constantFrom('org', 'org', 'org', 'user'),
    origin: fc.constantFrom<SnapshotOrigin>('hub', 'legacy'),
  });
  const admin = fc.record({
    minutes,
    limit: fc.option(fc.option(fc.integer({ min: 0, max: 9 }).map(String), { nil: null }), {
      nil: undefined,
    }),
    providers: fc.option(fc.subarray(['groq', 'together']), { nil: undefined }),
  });
  const message: fc.Arbitrary<Message> = fc.oneof(
    hub.map(({ minutes: m, members, limit, kind, origin }) => ({
      snapshot:
        kind === 'user'
          ? user(m)
          : org(m, members, limit === undefined ? {} : { spendingLimitNanoUsd: limit }),
      origin,
    })),
    admin
      .filter((a) => a.limit !== undefined || a.providers !== undefined)
      .map(({ minutes: m, limit, providers }) => ({
        settings: settings(m, {
          ...(limit === undefined ? {} : { spendingLimitNanoUsd: limit }),
          ...(providers === undefined ? {} : { disabledProviders: providers }),
        }),
      })),
  );
  // Legacy and hub copies of one snapshot are the same stored message: one origin each.
  const messages = fc
    .array(message, { maxLength: 12 })
    .map((all) =>
      all.filter(
        (m, i) =>
          !('snapshot' in m) ||
          all.findIndex(
            (o) =>
              'snapshot' in o &&
              o.snapshot.effectiveAt === m.snapshot.effectiveAt &&
              JSON.stringify(o.snapshot) === JSON.stringify(m.snapshot),
          ) === i,
      ),
    );

  it('answers the same whatever the arrival order, and under redelivery', () => {
    fc.assert(
      fc.property(
        messages.chain((all) =>
          fc.tuple(
            fc.constant(all),
            fc.shuffledSubarray(all, { minLength: all.length }),
            fc.subarray(all),
          ),
        ),
        ([all, shuffled, redelivered]) => {
          const a = historyOf(...all);
          const b = historyOf(...shuffled, ...redelivered);
          for (let m = 0; m <= 31; m++) expect(at(b, m)).toEqual(at(a, m));
          expect(b.ignored('acme')).toEqual(a.ignored('acme'));
        },
      ),
    );
  });

  it("the hub's fields come from its snapshot in force; the admin's from their latest setting", () => {
    fc.assert(
      fc.property(messages, minutes, (all, m) => {
        const history = historyOf(...all);
        const facts = at(history, m);
        const t = T0 + m * MIN;
        const hubInForce = history
          .history('acme')
          .filter((s) => Date.parse(s.effectiveAt) <= t)
          .at(-1);
        if (hubInForce === undefined) {
          expect(facts).toBeUndefined();
          return;
        }
        expect(facts?.kind).toBe(hubInForce.kind);
        if (facts?.kind !== 'org' || hubInForce.kind !== 'org') return;
        expect(facts.members).toEqual(hubInForce.members);
        const sets = all
          .flatMap((x) => ('settings' in x ? [x.settings] : []))
          .filter((s) => s.spendingLimitNanoUsd !== undefined && Date.parse(s.effectiveAt) <= t)
          .sort((x, y) => Date.parse(x.effectiveAt) - Date.parse(y.effectiveAt));
        const latest = sets.at(-1);
        const unambiguous = sets.filter((s) => s.effectiveAt === latest?.effectiveAt).length === 1;
        if (latest !== undefined && unambiguous) {
          expect(facts.spendingLimitNanoUsd).toBe(latest.spendingLimitNanoUsd ?? undefined);
        }
      }),
    );
  });
});
