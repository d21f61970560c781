import { afterAll, describe, it } from 'vitest';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): pricing killed in the middle of a round, right after its first ledger
// insert (the rest of the round and the offsets not done), then again right after storing the
// unpriced rows of a failing provider (their alert not published yet).

describe('restarts: pricing', () => {
  let world: World | undefined;
  afterAll(() => world?.close());

  it('killed after a ledger insert and after an unpriced insert: every request once, every unpriced one announced', async () => {
    world = await startWorld({ name: 'pricing', failing: ['nscale'] });
    const enforcement = await world.runAllBut(['pricing']);

    const midRound = world.spawn(['pricing'], { crash: 'after:billing.ledger_entries' });
    await midRound.ready();
    await world.send();
    await midRound.crashed();
    // The failing provider's requests reach their deadline under this one.
    const atDeadline = world.spawn(['pricing'], { crash: 'after:billing.unpriced_entries' });
    await atDeadline.crashed();
    await world.spawn(['pricing']).ready();

    await world.settled(enforcement);
    await world.expectGroundTruth();
    await expectBooksBalanced(world, world.traffic.month, DEADLINE_MS, enforcement);
  });
});
