import { setTimeout as sleep } from 'node:timers/promises';
import { readOffsets, type Kafka } from '@nanobill/kafka';

/** Where account snapshots come from, and the consumer group that stores them in ClickHouse. */
export interface AccountsFeed {
  topic: string;
  groupId: string;
}

/** Why the wait ended. */
export type CatchUp = 'caught_up' | 'nothing_to_read' | 'timed_out';

/**
 * Waits until the accounts service has stored every snapshot that was on `billing.accounts.v1`
 * when the wait began: its group's committed offsets reach the topic's end offsets of then (the
 * accounts service commits only what `billing.account_snapshots` holds). Enforcement decides
 * nothing before (issue 13: started beside a fresh accounts service, it judged a PRO user and
 * an org's members as free users). Bounded by `timeoutMs`: an accounts service that is down
 * must not keep limits from being enforced forever; the caller says so then.
 */
export async function waitForAccountHistory(
  kafka: Kafka,
  feed: AccountsFeed,
  options: { timeoutMs: number; signal: AbortSignal; pollMs?: number },
): Promise<CatchUp> {
  return readOffsets(kafka, async (offsets) => {
    const ends = new Map(
      (await offsets.topicEnds(feed.topic))
        .filter((o) => o.high > o.low)
        .map((o) => [o.partition, o.high]),
    );
    if (ends.size === 0) return 'nothing_to_read';
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      for (const [partition, offset] of await offsets.committed(feed.groupId, feed.topic)) {
        const end = ends.get(partition);
        if (end !== undefined && offset >= end) ends.delete(partition);
      }
      if (ends.size === 0) return 'caught_up';
      if (Date.now() >= deadline || options.signal.aborted) return 'timed_out';
      await sleep(options.pollMs ?? 250, undefined, { signal: options.signal }).catch(
        () => undefined,
      );
    }
  });
}
