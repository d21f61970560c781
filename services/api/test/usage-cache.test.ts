import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@nanobill/observability';
import type { UsageSeriesOptions } from '@nanobill/usage';
import type { Principal } from '../src/tokens.js';
import {
  etagOf,
  noneMatch,
  USAGE_CACHE_MAX_ENTRY_BYTES,
  UsageAnswerCache,
  usageAnswerKey,
} from '../src/usage-cache.js';
import { USAGE_VERSION_FOLLOW_MS, UsageVersions } from '../src/usage-versions.js';

// The usage answer cache and the versions it checks answers against, on their own: computations
// that count their calls, an injected clock, fake version reads.

const acmeAdmin: Principal = { kind: 'org', org: 'acme', tokenId: 't1' };
const query = (fields: Partial<UsageSeriesOptions> = {}): UsageSeriesOptions => ({
  account: 'acme',
  from: new Date('2026-10-01T00:00:00Z'),
  to: new Date('2026-10-08T00:00:00Z'),
  granularity: 'day',
  groupBy: 'member',
  ...fields,
});

function counting(body = '{"series":[]}') {
  const calls = { n: 0 };
  return { calls, compute: async () => (calls.n++, body) };
}

describe('usageAnswerKey', () => {
  it('is one key for every spelling of one query and one authorization scope', () => {
    const a = usageAnswerKey(acmeAdmin, query());
    // Another token of the same org, the same instants made from other strings.
    const sameScope: Principal = { kind: 'org', org: 'acme', tokenId: 't2' };
    const b = usageAnswerKey(
      sameScope,
      query({ from: new Date('2026-10-01T00:00:00.000Z'), to: new Date(Date.UTC(2026, 9, 8)) }),
    );
    expect(b).toBe(a);
  });

  it('differs with the scope, the org asked about and every query field', () => {
    const base = usageAnswerKey(acmeAdmin, query());
    const others = [
      usageAnswerKey({ kind: 'org', org: 'globex', tokenId: 't1' }, query()),
      usageAnswerKey({ kind: 'finance', tokenId: 't1' }, query()),
      usageAnswerKey(acmeAdmin, query({ account: 'globex' })),
      usageAnswerKey(acmeAdmin, query({ from: new Date('2026-10-02T00:00:00Z') })),
      usageAnswerKey(acmeAdmin, query({ to: new Date('2026-10-09T00:00:00Z') })),
      usageAnswerKey(acmeAdmin, query({ granularity: 'hour' })),
      usageAnswerKey(acmeAdmin, query({ groupBy: 'model' })),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  it('cannot be forged by separators in an org name', () => {
    const tricky = usageAnswerKey(
      { kind: 'org', org: 'a","b', tokenId: 't' },
      query({ account: 'a","b' }),
    );
    const plain = usageAnswerKey({ kind: 'org', org: 'a', tokenId: 't' }, query({ account: 'b' }));
    expect(tricky).not.toBe(plain);
    expect(JSON.parse(tricky)[1]).toBe('a","b');
  });
});

describe('noneMatch (If-None-Match)', () => {
  const etag = etagOf('{"x":1}');

  it('matches the ETag alone, in a list, weak or not, and *', () => {
    expect(noneMatch(etag, etag)).toBe(true);
    expect(noneMatch(`"other", W/${etag}`, etag)).toBe(true);
    expect(noneMatch('*', etag)).toBe(true);
  });

  it('does not match another ETag or no header', () => {
    expect(noneMatch(etagOf('{"x":2}'), etag)).toBe(false);
    expect(noneMatch(undefined, etag)).toBe(false);
    expect(noneMatch('', etag)).toBe(false);
  });
});

describe('UsageAnswerCache', () => {
  it('serves the kept answer while the version is unchanged, computes again when it changes', async () => {
    const cache = new UsageAnswerCache({ maxEntries: 10, maxBytes: 1_000_000 });
    const { calls, compute } = counting();
    const key = usageAnswerKey(acmeAdmin, query());
    const first = await cache.answer(key, '5', compute);
    const second = await cache.answer(key, '5', compute);
    expect([first.outcome, second.outcome, calls.n]).toEqual(['miss', 'hit', 1]);
    expect(second.answer).toEqual(first.answer);
    expect(second.answer.etag).toBe(etagOf(first.answer.body));
    const third = await cache.answer(key, '6', compute);
    expect([third.outcome, calls.n]).toEqual(['stale', 2]);
    expect((await cache.answer(key, '6', compute)).outcome).toBe('hit');
  });

  it('never gives one key the answer of another', async () => {
    const cache = new UsageAnswerCache({ maxEntries: 10, maxBytes: 1_000_000 });
    const acme = usageAnswerKey(acmeAdmin, query());
    const globex = usageAnswerKey(
      { kind: 'org', org: 'globex', tokenId: 't9' },
      query({ account: 'globex' }),
    );
    await cache.answer(acme, '1', async () => '{"org":"acme"}');
    const answer = await cache.answer(globex, '1', async () => '{"org":"globex"}');
    expect(answer).toMatchObject({ outcome: 'miss', answer: { body: '{"org":"globex"}' } });
  });

  it('keeps at most maxEntries answers, the least recently used out first', async () => {
    const cache = new UsageAnswerCache({ maxEntries: 2, maxBytes: 1_000_000 });
    const keys = ['a', 'b', 'c'].map((org) =>
      usageAnswerKey({ kind: 'org', org, tokenId: 't' }, query({ account: org })),
    );
    const { calls, compute } = counting();
    await cache.answer(keys[0]!, '1', compute);
    await cache.answer(keys[1]!, '1', compute);
    await cache.answer(keys[0]!, '1', compute); // a used again: b is the least recent
    await cache.answer(keys[2]!, '1', compute);
    expect(cache.size.entries).toBe(2);
    expect((await cache.answer(keys[0]!, '1', compute)).outcome).toBe('hit');
    expect((await cache.answer(keys[1]!, '1', compute)).outcome).toBe('miss');
    expect(calls.n).toBe(4);
  });

  it('keeps at most maxBytes, and no answer larger than the largest kept', async () => {
    const body = 'x'.repeat(1_000);
    const cache = new UsageAnswerCache({ maxEntries: 100, maxBytes: 3_500 });
    for (let i = 0; i < 10; i++) {
      await cache.answer(`key-${i}`, '1', async () => body);
    }
    expect(cache.size.entries).toBe(3);
    expect(cache.size.bytes).toBeGreaterThan(3_000);
    expect(cache.size.bytes).toBeLessThanOrEqual(3_500);

    const roomy = new UsageAnswerCache({ maxEntries: 100, maxBytes: 64 * 1024 * 1024 });
    const huge = 'y'.repeat(USAGE_CACHE_MAX_ENTRY_BYTES + 1);
    const answer = await roomy.answer('huge', '1', async () => huge);
    expect(answer.answer.body).toBe(huge);
    expect(roomy.size.entries).toBe(0);
  });

  it('computes once for concurrent requests of one key and version', async () => {
    const cache = new UsageAnswerCache({ maxEntries: 10, maxBytes: 1_000_000 });
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const compute = async () => {
      calls++;
      await gate;
      return '{}';
    };
    const both = Promise.all([cache.answer('k', '1', compute), cache.answer('k', '1', compute)]);
    release();
    const outcomes = (await both).map((a) => a.outcome).sort();
    expect(outcomes).toEqual(['miss', 'shared']);
    expect(calls).toBe(1);
  });

  it('does not let an answer of an older version replace a newer one', async () => {
    const cache = new UsageAnswerCache({ maxEntries: 10, maxBytes: 1_000_000 });
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowOld = cache.answer('k', '1', async () => (await gate, '{"v":1}'));
    await cache.answer('k', '2', async () => '{"v":2}');
    release();
    await slowOld;
    expect((await cache.answer('k', '2', async () => 'never')).answer.body).toBe('{"v":2}');
  });

  it('keeps nothing with maxEntries 0, and counts outcomes and size in its metrics', async () => {
    const off = new UsageAnswerCache({ maxEntries: 0, maxBytes: 1_000 });
    expect(off.enabled).toBe(false);
    const { calls, compute } = counting();
    await off.answer('k', '1', compute);
    await off.answer('k', '1', compute);
    expect(calls.n).toBe(2);

    const registry = createMetricsRegistry();
    const cache = new UsageAnswerCache({ maxEntries: 10, maxBytes: 1_000_000 }, registry);
    await cache.answer('k', '1', compute);
    await cache.answer('k', '1', compute);
    await cache.answer('k', '2', compute);
    const text = await registry.metrics();
    expect(text).toContain('nanobill_usage_answers_total{outcome="miss"} 1');
    expect(text).toContain('nanobill_usage_answers_total{outcome="hit"} 1');
    expect(text).toContain('nanobill_usage_answers_total{outcome="stale"} 1');
    expect(text).toContain('nanobill_usage_cache_entries 1');
    expect(text).toMatch(/nanobill_usage_cache_bytes [1-9]\d*/);
  });
});

describe('UsageVersions', () => {
  function setup(maxAgeMs = 2_000) {
    const clock = { now: 1_000 };
    const reads: string[][] = [];
    const stored = new Map<string, string>();
    const versions = new UsageVersions({
      read: async (orgs) => {
        reads.push([...orgs]);
        return new Map(orgs.map((o) => [o, stored.get(o) ?? '0']));
      },
      now: () => clock.now,
      maxAgeMs,
    });
    return { clock, reads, stored, versions };
  }

  it('reads a version once, trusts it for maxAgeMs, then reads it again', async () => {
    const { clock, reads, stored, versions } = setup();
    stored.set('acme', '3');
    expect(await versions.get('acme')).toBe('3');
    stored.set('acme', '4');
    clock.now += 2_000;
    expect(await versions.get('acme')).toBe('3');
    clock.now += 1;
    expect(await versions.get('acme')).toBe('4');
    expect(reads).toEqual([['acme'], ['acme']]);
  });

  it('refreshes every followed org in one read, so that asking then makes none', async () => {
    const { clock, reads, stored, versions } = setup();
    await versions.get('acme');
    await versions.get('globex');
    stored.set('globex', '7');
    clock.now += 5_000;
    await versions.refresh();
    expect(await versions.get('globex')).toBe('7');
    expect(reads).toEqual([['acme'], ['globex'], ['acme', 'globex']]);
  });

  it('never goes back to an older version, and forgets orgs nobody asks about', async () => {
    const { clock, stored, versions } = setup();
    stored.set('acme', '9');
    await versions.get('acme');
    stored.set('acme', '8'); // a read that began before the newer one and ended after it
    clock.now += 3_000;
    await versions.refresh();
    clock.now += 1;
    expect(await versions.get('acme')).toBe('9');
    clock.now += USAGE_VERSION_FOLLOW_MS + 1;
    await versions.refresh();
    expect(versions.followed).toBe(0);
  });

  it('counts its reads by cause and the orgs it follows', async () => {
    const registry = createMetricsRegistry();
    const clock = { now: 1_000 };
    const versions = new UsageVersions({
      read: async (orgs) => new Map(orgs.map((o) => [o, '1'])),
      now: () => clock.now,
      registry,
    });
    await versions.get('acme');
    await versions.get('acme');
    await versions.refresh();
    const text = await registry.metrics();
    expect(text).toContain('nanobill_usage_version_reads_total{cause="request"} 1');
    expect(text).toContain('nanobill_usage_version_reads_total{cause="refresh"} 1');
    expect(text).toContain('nanobill_usage_versions_followed 1');
  });

  it('follows at most maxOrgs orgs', async () => {
    const clock = { now: 1_000 };
    const versions = new UsageVersions({
      read: async (orgs) => new Map(orgs.map((o) => [o, '1'])),
      now: () => clock.now,
      maxOrgs: 3,
    });
    for (const org of ['a', 'b', 'c', 'd', 'e']) await versions.get(org);
    expect(versions.followed).toBe(3);
  });
});
