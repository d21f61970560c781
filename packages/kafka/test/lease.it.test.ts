import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics, startLease, type Lease } from '../src/index.js';
import { groupState, quietLogger, testKafka, uniqueName, waitFor } from '@nanobill/testkit';

describe('startLease (real broker): one active instance, the others standing by', () => {
  const kafka = testKafka();
  const leases: Lease[] = [];
  afterAll(async () => {
    for (const lease of leases) await lease.stop();
  });

  it('one holder; a joining standby does not take it; the holder leaving hands it over', async () => {
    const topic = uniqueName('it-lease');
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const groupId = uniqueName('it-lease-group');
    const events: string[] = [];
    const active = new Set<string>();
    const start = async (name: string) => {
      const lease = await startLease({
        kafka,
        topic,
        groupId,
        logger: quietLogger(),
        sessionTimeoutMs: 6_000,
        onAcquired: async () => {
          active.add(name);
          events.push(`${name} acquired`);
        },
        onLost: async () => {
          active.delete(name);
          events.push(`${name} lost`);
        },
      });
      leases.push(lease);
      return lease;
    };

    const a = await start('a');
    await waitFor('a to hold the lease', async () => (a.holding() ? true : undefined));
    const b = await start('b');
    const c = await start('c');
    // Once the group is stable with all three members (the rebalances the standbys caused are
    // over), the holder is still a, and only a.
    await waitFor(
      'the group stable with three members',
      async () => {
        const group = await groupState(kafka, groupId);
        return group.state === 'Stable' && group.members === 3 ? true : undefined;
      },
      30_000,
    );
    expect([...active]).toEqual(['a']);
    expect([b.holding(), c.holding()]).toEqual([false, false]);

    await a.stop();
    await waitFor(
      'a standby to take over',
      async () => (active.size === 1 && !active.has('a') ? true : undefined),
      30_000,
    );
    const next = [...active][0]!;
    expect(events.slice(0, 2)).toEqual(['a acquired', 'a lost']);
    expect(events).toContain(`${next} acquired`);
    // Never two holders at once in this process's view.
    let holders = 0;
    let most = 0;
    for (const e of events) {
      holders += e.endsWith('acquired') ? 1 : -1;
      most = Math.max(most, holders);
    }
    expect(most).toBe(1);
  });
});
