import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnforcementService } from '@nanobill/enforcement-service';
import { createMetricsRegistry } from '@nanobill/observability';
import { queryValue, quietLogger, uniqueName, waitFor } from '@nanobill/testkit';
import { startSingleton } from '@nanobill/pipeline';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): the enforcement service rebuilds its live spend from ClickHouse at every
// start (a restart, or a standby taking the lease over). Its worst moment: just after pricing
// stored ledger rows, when they are between one and two ledger overlaps old (60–120 s by
// default; seconds here) and both the start-up sums and the ledger follower may read them.
// Requests of a failing provider are unpriced by then too: their estimates must be gone.

/** The service's ledger overlap, small so that the window is reached in seconds. */
const OVERLAP_MS = 10_000;
/** A lease handover (a rebalance of the lease group, then a start) takes longer than a restart. */
const TAKEOVER_OVERLAP_MS = 20_000;

describe('restarts: enforcement', () => {
  let world: World | undefined;
  afterEach(() => world?.close());

  /** A world whose whole pipeline but enforcement runs in a child process. */
  const pipeline = async (name: string) => {
    world = await startWorld({ name, failing: ['nscale'] });
    await world.publishSnapshots();
    await world.spawnOthers([]);
    return world;
  };

  /**
   * Waits until the newest ledger rows are 1.2 overlaps old (early in the window: a start takes
   * a while), and returns when they were stored.
   */
  const inTheWindow = async (w: World, overlapMs: number): Promise<number> => {
    const newest = Number(
      await queryValue(
        w.clickhouse,
        'SELECT toUnixTimestamp64Milli(max(inserted_at)) FROM billing.ledger_entries',
      ),
    );
    await sleep(Math.max(0, newest + 1.2 * overlapMs - Date.now()));
    return newest;
  };
  /** The test's premise: the start, between `from` and `to`, came while the newest rows were in the window. */
  const expectInTheWindow = (newest: number, overlapMs: number, from: number, to: number) => {
    expect(from - newest, 'age of the newest ledger rows').toBeGreaterThan(overlapMs);
    expect(to - newest, 'age of the newest ledger rows').toBeLessThan(2 * overlapMs);
  };

  it('restarted just after pricing stored rows: live spend = ledger + estimates, statuses and alerts right', async () => {
    const w = await pipeline('enforcement-restart');
    const first = await w.startEnforcement({ ledgerOverlapMs: OVERLAP_MS });
    await w.send();
    await w.settled(first, { statements: false });

    const newest = await inTheWindow(w, OVERLAP_MS);
    await first.stop();
    const startedAt = Date.now();
    const restarted = await w.startEnforcement({ ledgerOverlapMs: OVERLAP_MS });
    expectInTheWindow(newest, OVERLAP_MS, startedAt, Date.now());
    await w.settled(restarted);
    await w.expectGroundTruth();
    await expectBooksBalanced(w, w.traffic.month, DEADLINE_MS, restarted);
  });

  it('a standby taking the lease over just after pricing stored rows: live spend = ledger + estimates', async () => {
    const w = await pipeline('enforcement-standby');
    // Two processes' worth of the lease (`nanobill run` on a ClickHouse server): whichever
    // holds it runs enforcement, started afresh.
    let active: EnforcementService | undefined;
    const name = uniqueName('restarts-enforcement');
    const lease = () =>
      startSingleton({
        name,
        kafka: w.kafka,
        logger: quietLogger(),
        registry: createMetricsRegistry(),
        start: async () =>
          (active = await w.startEnforcement({ ledgerOverlapMs: TAKEOVER_OVERLAP_MS })),
      });
    const holder = await lease();
    const holding = await waitFor('the holder to run enforcement', async () => active, 60_000, 50);
    const standby = await lease();
    try {
      await w.send();
      await w.settled(holding, { statements: false });

      const newest = await inTheWindow(w, TAKEOVER_OVERLAP_MS);
      const handedOverAt = Date.now();
      await holder.stop();
      const takenOver = await waitFor(
        'the standby to take over',
        async () => (active !== holding ? active : undefined),
        60_000,
        50,
      );
      expectInTheWindow(newest, TAKEOVER_OVERLAP_MS, handedOverAt, Date.now());
      await w.settled(takenOver);
      await w.expectGroundTruth();
      await expectBooksBalanced(w, w.traffic.month, DEADLINE_MS, takenOver);
    } finally {
      await standby.stop();
    }
  });
});
