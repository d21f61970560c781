import { afterAll, describe, expect, it } from 'vitest';
import { queryValue, waitFor } from '@nanobill/testkit';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): the statements service killed in the middle of finalizing a month, after
// its final lines are stored and before the month is recorded final. The restarted service
// finalizes it again; the final lines equal the recomputation and never change afterwards.

/** Whether the month is recorded final: every account's final line stored (statement_months). */
async function recordedFinal(world: World, month: string): Promise<boolean> {
  const n = await queryValue(
    world.clickhouse,
    `SELECT count() FROM billing.statement_months WHERE month = '${month}'`,
  );
  return Number(n) > 0;
}

describe('restarts: statements', () => {
  let world: World | undefined;
  afterAll(() => world?.close());

  it('killed mid-finalization: the final statements equal the ledger, once', async () => {
    world = await startWorld({ name: 'statements' });
    const enforcement = await world.runAllBut(['statements']);
    await world.send();
    await world.settled(enforcement, { statements: false });

    // The statements service lives just past the month's close (its end, the pricing deadline
    // and the settling time): it finalizes the month at its first refresh.
    const { month, monthStart } = world.traffic;
    const start = new Date(monthStart);
    const nextMonth = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1);
    const env = {
      STATEMENTS_CLOCK_OFFSET_MS: String(nextMonth + DEADLINE_MS + 6 * 60_000 - Date.now()),
    };
    const crashing = world.spawn(['statements'], { crash: 'after:billing.statement_lines', env });
    await crashing.crashed();
    expect(await recordedFinal(world, month), 'recorded final before the kill').toBe(false);
    expect(
      Number(
        await queryValue(
          world.clickhouse,
          `SELECT count() FROM billing.statement_lines WHERE status = 'final'`,
        ),
      ),
      'final lines stored before the kill',
    ).toBeGreaterThan(0);

    await world.spawn(['statements'], { env }).ready();
    await waitFor('the month final', async () =>
      (await recordedFinal(world!, month)) ? true : undefined,
    );
    await world.settled(enforcement);
    await world.expectGroundTruth();
    await expectBooksBalanced(world, month, DEADLINE_MS, enforcement);
  });
});
