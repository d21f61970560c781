// The rebalance phase's figures, from the members' reports (pure: test/kafka-clients-bench.test.ts).
import { BUCKET_MS } from './shared.js';

/** What a group member (worker.ts member) received, and when. */
export interface MemberReport {
  received: number;
  startedAt: number;
  firstMessageAt: number | null;
  assignments: [number, number[]][];
  revocations: number[];
  runs: Record<string, [number, number][]>;
  buckets: Record<string, number>;
}

/** Every offset of the topic received exactly once? */
export function deliveryCheck(reports: MemberReport[], highWatermarks: number[]) {
  let duplicates = 0;
  let lost = 0;
  highWatermarks.forEach((high, partition) => {
    const seen = new Uint16Array(high);
    for (const report of reports) {
      for (const [first, last] of report.runs[partition] ?? []) {
        for (let offset = first; offset <= last; offset++) seen[offset]! += 1;
      }
    }
    for (const count of seen) {
      if (count === 0) lost += 1;
      else duplicates += count - 1;
    }
  });
  return { duplicates, lost };
}

/**
 * The group's longest silence after B was started (the rebalance pause, to BUCKET_MS) beside the
 * longest before it (what pacing alone produces), and B's wait for its first message.
 */
export function silences(reports: MemberReport[], joinAt: number) {
  const counts = new Map<number, number>();
  for (const report of reports) {
    for (const [bucket, n] of Object.entries(report.buckets)) {
      counts.set(Number(bucket), (counts.get(Number(bucket)) ?? 0) + n);
    }
  }
  const times = [...counts.keys()].sort((x, y) => x - y);
  let before = 0;
  let after = 0;
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]! - BUCKET_MS;
    if (times[i]! <= joinAt) before = Math.max(before, gap);
    else after = Math.max(after, gap);
  }
  const [a, b] = reports as [MemberReport, MemberReport];
  // B's own clock starts once its process has loaded (startedAt), not when it was spawned.
  const sinceB = (at: number | undefined | null) =>
    at === undefined || at === null ? null : (at - b.startedAt) / 1000;
  return {
    pauseSeconds: after / 1000,
    pacingGapSeconds: before / 1000,
    secondMemberAssignedSeconds: sinceB(b.assignments[0]?.[0]),
    secondMemberFirstMessageSeconds: sinceB(b.firstMessageAt),
    partitionsAfter: [a.assignments.at(-1)?.[1] ?? [], b.assignments.at(-1)?.[1] ?? []],
    firstMemberRevokedSeconds: sinceB(a.revocations.find((at) => at > b.startedAt)),
  };
}
