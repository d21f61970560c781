import { afterAll, describe, expect, it } from 'vitest';
import { alertKey, LIMIT_PERCENTS } from '@nanobill/enforcement';
import { startReceiver, waitFor } from '@nanobill/testkit';
import { DEADLINE_MS, expectBooksBalanced, startWorld, type World } from './harness.js';

// Restarts (issue 13): the alerts service killed after logging alerts and before committing
// them (they come again), then between a webhook's 2xx and the record of that delivery (the
// delivery is resumed after the restart). Each alert stays logged once and recorded delivered
// once; the receiver may see the interrupted attempt twice, under one alert id
// (docs/architecture.md "Spending limits", alerts).

describe('restarts: alerts', () => {
  let world: World | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  afterAll(async () => {
    await world?.close();
    await receiver?.close();
  });

  it('killed after logging and between delivery and its record: each alert logged and delivered once', async () => {
    receiver = await startReceiver();
    world = await startWorld({ name: 'alerts', webhook: { url: receiver.url, ca: receiver.ca } });
    const enforcement = await world.runAllBut(['alerts']);

    const afterLogging = world.spawn(['alerts'], { crash: 'after:billing.alert_log' });
    await afterLogging.ready();
    await world.send();
    await afterLogging.crashed();
    const afterDelivery = world.spawn(['alerts'], { crash: 'before:billing.alert_deliveries' });
    await afterDelivery.crashed();
    expect(receiver.received.filter((r) => r.answered === 200).length).toBeGreaterThan(0);
    await world.spawn(['alerts']).ready();

    await world.settled(enforcement);
    const { month, limitedOrg } = world.traffic;
    const ids = LIMIT_PERCENTS.map(([kind]) => alertKey(limitedOrg, month, kind));
    await waitForDeliveries(world, ids);
    expect(
      ids.map((id) => receiver!.delivered(id) > 0),
      'limit alerts received',
    ).toEqual(ids.map(() => true));
    const recorded = await (
      await world.clickhouse.query({
        query: `SELECT alert_id, toString(countIf(outcome = 'delivered')) AS delivered
                FROM billing.alert_deliveries GROUP BY alert_id ORDER BY alert_id`,
        format: 'JSONEachRow',
      })
    ).json<{ alert_id: string; delivered: string }>();
    expect(
      recorded.filter((r) => r.delivered !== '1'),
      'alerts recorded delivered other than once',
    ).toEqual([]);
    expect(recorded.map((r) => r.alert_id)).toEqual(expect.arrayContaining(ids));

    await world.expectGroundTruth();
    await expectBooksBalanced(world, month, DEADLINE_MS, enforcement);
  });
});

/** Until each alert's delivery is recorded as delivered. */
async function waitForDeliveries(world: World, ids: string[]): Promise<void> {
  await waitFor(
    'the limit alerts delivered and recorded',
    async () => {
      const result = await world.clickhouse.query({
        query: `SELECT count(DISTINCT alert_id) AS n FROM billing.alert_deliveries
                WHERE outcome = 'delivered' AND alert_id IN {ids:Array(String)}`,
        query_params: { ids },
        format: 'JSONEachRow',
      });
      const [{ n }] = (await result.json<{ n: string }>()) as [{ n: string }];
      return Number(n) === ids.length ? true : undefined;
    },
    60_000,
    250,
  );
}
