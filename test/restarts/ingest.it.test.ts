import { afterAll, describe, expect, it } from 'vitest';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): ingest killed at its worst moment, between the ClickHouse insert of a
// batch and the commit of its offsets: the whole batch comes again after the restart.

describe('restarts: ingest', () => {
  let world: World | undefined;
  afterAll(() => world?.close());

  it('killed between its insert and its offset commit: each request stored once, money exact', async () => {
    world = await startWorld({ name: 'ingest' });
    const enforcement = await world.runAllBut(['ingest']);

    const crashing = world.spawn(['ingest'], { crash: 'after:billing.usage' });
    await crashing.ready();
    await world.send();
    await crashing.crashed();
    const stored = Number(
      await world.clickhouse
        .query({ query: 'SELECT count() AS n FROM billing.usage', format: 'JSONEachRow' })
        .then((r) => r.json<{ n: string }>())
        .then((r) => r[0]!.n),
    );
    expect(stored, 'rows stored before the kill').toBeGreaterThan(0);

    await world.spawn(['ingest']).ready();
    await world.settled(enforcement);
    await world.expectGroundTruth();
    await expectBooksBalanced(world, world.traffic.month, DEADLINE_MS, enforcement);
  });
});
