// The figures bench:kafka-clients decides on: duplicates and losses across two group members, and
// the group's silences around the second member's join.
import { describe, expect, it } from 'vitest';
import {
  deliveryCheck,
  silences,
  type MemberReport,
} from '../bench/kafka-clients/rebalance-figures.js';

const member = (overrides: Partial<MemberReport>): MemberReport => ({
  received: 0,
  startedAt: 0,
  firstMessageAt: null,
  assignments: [],
  revocations: [],
  runs: {},
  buckets: {},
  ...overrides,
});

describe('deliveryCheck', () => {
  it('counts each offset received twice as a duplicate and each never received as lost', () => {
    const a = member({ runs: { 0: [[0, 9]], 1: [[0, 4]] } });
    // B re-reads partition 0 from offset 7 (A's last commit) and misses offsets 7-9 of partition 1.
    const b = member({ runs: { 0: [[7, 9]], 1: [[5, 6]] } });
    expect(deliveryCheck([a, b], [10, 10])).toEqual({ duplicates: 3, lost: 3 });
  });

  it('finds nothing wrong when the members split the offsets between them', () => {
    const a = member({ runs: { 0: [[0, 4]], 1: [[0, 9]] } });
    const b = member({ runs: { 0: [[5, 9]] } });
    expect(deliveryCheck([a, b], [10, 10])).toEqual({ duplicates: 0, lost: 0 });
  });
});

describe('silences', () => {
  it("separates the pacing gap before the join from the pause after it, and times B's start", () => {
    const joinAt = 10_000;
    // A delivers every 50 ms with one 200 ms gap before the join, then stops 1 s after it.
    const aBuckets = { 9_000: 1, 9_050: 1, 9_300: 1, 9_350: 1, 11_000: 1 };
    const a = member({
      assignments: [[8_900, [0, 1]]],
      revocations: [11_050],
      buckets: aBuckets,
    });
    // B loads in 500 ms, is assigned 2 s later and receives 0.5 s after that.
    const b = member({
      startedAt: 10_500,
      assignments: [[12_500, [1]]],
      firstMessageAt: 13_000,
      buckets: { 13_000: 1 },
    });
    expect(silences([a, b], joinAt)).toEqual({
      pacingGapSeconds: 0.2,
      // From A's last delivery (11.0 s) to B's first (13.0 s), less the bucket.
      pauseSeconds: 1.95,
      secondMemberAssignedSeconds: 2,
      secondMemberFirstMessageSeconds: 2.5,
      partitionsAfter: [[0, 1], [1]],
      firstMemberRevokedSeconds: 0.55,
    });
  });
});
