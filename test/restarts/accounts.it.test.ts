import { afterAll, describe, it } from 'vitest';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): the accounts service killed between storing a batch of snapshots and
// committing it: the snapshots come again and are stored a second time. Attribution, credits,
// limits and statements read that history: money must not move.

describe('restarts: accounts', () => {
  let world: World | undefined;
  afterAll(() => world?.close());

  it('killed between storing snapshots and committing them: payers, credits and limits exact', async () => {
    world = await startWorld({ name: 'accounts' });
    const crashing = world.spawn(['accounts'], { crash: 'after:billing.account_snapshots' });
    await crashing.ready();
    await world.publishSnapshots();
    await crashing.crashed();
    await world.spawn(['accounts']).ready();
    await world.snapshotsStored();

    await world.spawnOthers(['accounts']);
    const enforcement = await world.startEnforcement();
    await world.send();
    await world.settled(enforcement);
    await world.expectGroundTruth();
    await expectBooksBalanced(world, world.traffic.month, DEADLINE_MS, enforcement);
  });
});
