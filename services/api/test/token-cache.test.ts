import { describe, expect, it } from 'vitest';
import {
  CachedLookup,
  MAX_TOKEN_LOOKUPS_IN_FLIGHT,
  TOKEN_CACHE_MAX_IDS,
  TokenLookupsBusy,
  UNKNOWN_ID_CACHE_MAX_IDS,
  UNKNOWN_ID_TTL_MS,
} from '../src/token-cache.js';

// The token rows' cache on its own, with an injected clock and a loader that counts its calls.
// (lru-cache reads a start time of 0 as "none": the clock starts elsewhere.)

function setup(ttlMs = 10_000) {
  const clock = { now: 1_000_000 };
  const loads: string[] = [];
  const known = new Set(['real']);
  const lookup = new CachedLookup(
    async (key) => {
      loads.push(key);
      return known.has(key) ? { key } : undefined;
    },
    { ttlMs, now: () => clock.now },
  );
  return { clock, loads, lookup };
}

describe('CachedLookup (token rows)', () => {
  it('trusts a found row for the time-to-live, then asks again', async () => {
    const { clock, loads, lookup } = setup();
    expect(await lookup.get('real')).toEqual({ key: 'real' });
    clock.now += 10_000;
    expect(await lookup.get('real')).toEqual({ key: 'real' });
    expect(loads).toEqual(['real']);
    clock.now += 1;
    await lookup.get('real');
    expect(loads).toEqual(['real', 'real']);
  });

  it('remembers unknown ids for a shorter time, and forgets on demand', async () => {
    const { clock, loads, lookup } = setup();
    expect(await lookup.get('forged')).toBeUndefined();
    expect(await lookup.get('forged')).toBeUndefined();
    expect(loads).toEqual(['forged']);
    clock.now += UNKNOWN_ID_TTL_MS + 1;
    await lookup.get('forged');
    expect(loads).toEqual(['forged', 'forged']);
    await lookup.get('real');
    lookup.forget('real');
    await lookup.get('real');
    expect(loads.filter((k) => k === 'real')).toHaveLength(2);
  });

  it('keeps real rows however many forged ids flood the unknown cache', async () => {
    const { loads, lookup } = setup();
    await lookup.get('real');
    for (let i = 0; i < UNKNOWN_ID_CACHE_MAX_IDS + 100; i++) await lookup.get(`forged-${i}`);
    loads.length = 0;
    expect(await lookup.get('real')).toEqual({ key: 'real' });
    expect(loads).toEqual([]);
    expect(TOKEN_CACHE_MAX_IDS).toBeGreaterThan(0);
  });

  it('shares one lookup between concurrent requests for an id, and refuses past the in-flight cap', async () => {
    const gate: Array<() => void> = [];
    const loads: string[] = [];
    const lookup = new CachedLookup(
      (key) =>
        new Promise<{ key: string }>((resolve) => {
          loads.push(key);
          gate.push(() => resolve({ key }));
        }),
      { ttlMs: 10_000 },
    );
    const same = [lookup.get('a'), lookup.get('a'), lookup.get('a')];
    const others = Array.from({ length: MAX_TOKEN_LOOKUPS_IN_FLIGHT - 1 }, (_, i) =>
      lookup.get(`id-${i}`),
    );
    expect(loads).toHaveLength(MAX_TOKEN_LOOKUPS_IN_FLIGHT);
    await expect(lookup.get('one-too-many')).rejects.toBeInstanceOf(TokenLookupsBusy);
    // An id already being looked up joins that lookup, even at the cap.
    same.push(lookup.get('a'));
    expect(loads).toHaveLength(MAX_TOKEN_LOOKUPS_IN_FLIGHT);
    for (const open of gate) open();
    expect(await Promise.all(same)).toEqual(Array(4).fill({ key: 'a' }));
    await Promise.all(others);
    // Once they are answered, a new id is looked up again.
    const later = lookup.get('one-too-many');
    gate.at(-1)!();
    expect(await later).toEqual({ key: 'one-too-many' });
  });

  it('caches nothing found with a time-to-live of 0', async () => {
    const { loads, lookup } = setup(0);
    await lookup.get('real');
    await lookup.get('real');
    expect(loads).toEqual(['real', 'real']);
  });
});
