import { describe, expect, it } from 'vitest';
import { PendingRequests, type PendingRef } from '../src/index.js';

const ref = (id: string, requestId = `r-${id}`, firstSeen = '2026-11-25T12:00:00.000Z') =>
  ({
    provider: 'groq',
    provider_request_id: id,
    request_id: requestId,
    first_seen_at: firstSeen,
    source_partition: 0,
  }) satisfies PendingRef;

describe('PendingRequests: bounded by its cap', () => {
  it('takes new requests up to the cap, then refuses them; a request it holds is always taken again', () => {
    const pending = new PendingRequests(2);
    expect(pending.add(ref('a'))).toBe(true);
    expect(pending.add(ref('b'))).toBe(true);
    expect(pending.room()).toBe(0);
    expect(pending.add(ref('c'))).toBe(false);
    expect(pending.ids('groq')).toEqual(['a', 'b']);
    // Redelivered, seen earlier: not new, so taken, and its earliest time kept.
    expect(pending.add(ref('a', 'r-a', '2026-11-25T11:00:00.000Z'))).toBe(true);
    expect(pending.get('groq', 'a')?.first_seen_at).toBe('2026-11-25T11:00:00.000Z');
    pending.resolve(ref('a'));
    expect(pending.room()).toBe(1);
    expect(pending.add(ref('c'))).toBe(true);
    expect(pending.size()).toBe(2);
  });

  it('counts a reuse of a provider request id against the cap until the round takes it', () => {
    const pending = new PendingRequests(2);
    pending.add(ref('a'));
    expect(pending.add(ref('a', 'r-other', '2026-11-25T12:01:00.000Z'))).toBe(true);
    expect(pending.room()).toBe(0);
    expect(pending.add(ref('b'))).toBe(false);
    expect(pending.takeReuses()).toEqual([
      { row: ref('a', 'r-other', '2026-11-25T12:01:00.000Z'), keptRequestId: 'r-a' },
    ]);
    expect(pending.room()).toBe(1);
  });

  it("lists a provider's ids in the pending table's key order: partition, then id", () => {
    const pending = new PendingRequests();
    for (const [id, partition] of [
      ['b', 1],
      ['c', 0],
      ['a', 1],
      ['B', 0],
    ] as const) {
      pending.add({ ...ref(id), source_partition: partition });
    }
    expect(pending.ids('groq')).toEqual(['B', 'c', 'a', 'b']);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => new PendingRequests(0)).toThrow(/positive integer/);
  });
});
