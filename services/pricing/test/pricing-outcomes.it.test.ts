import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert, RoutedRequestEvent } from '@nanobill/contract';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { trueCostNanoUsd } from '@nanobill/provider-simulator';
import { parseProviders, type ProviderRegistry } from '@nanobill/providers';
import {
  collectTopic,
  produce,
  quietLogger,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPricing, type PricingService } from '../src/index.js';
import { loadPending } from '../src/writers.js';
import { HARDWARE, asMessages, routedEvents, simulatedProviders } from './support.js';

// Every routed request that reached a provider ends in exactly one of the ledger, unpriced, or
// the duplicates quarantine, through the contract's path: it waits for a price until the
// deadline, then it is unpriced with the reason and announced (docs/architecture.md "How pricing
// stays exact"). Real broker, real chdb; the clock is the test's.
const MINUTE = 60_000;
const DEADLINE_MS = 2 * MINUTE;

describe('pricing outcomes: deadline, unconfigured providers, reused provider request ids, retries', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  const running: PricingService[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    kafka = testKafka();
    ({ client: clickhouse } = await testClickHouse());
  });
  afterAll(async () => {
    for (const pricing of running) await pricing.stop().catch(() => undefined);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await clickhouse?.close();
  });

  /** Topics and a group of its own, a clock that starts 10 minutes ago, and alerts collected. */
  async function scenario() {
    const topics = { requests: uniqueName('it-requests'), alerts: uniqueName('it-alerts') };
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 2 },
      { topic: topics.alerts, numPartitions: 1 },
    ]);
    const alerts = await collectTopic(kafka, topics.alerts);
    closers.push(() => alerts.stop());
    const t0 = new Date(Date.now() - 10 * MINUTE);
    const groupId = uniqueName('pricing');
    const world = {
      clock: t0,
      t0,
      alerts: () => alerts.values<Alert>(),
      send: (events: RoutedRequestEvent[]) => produce(kafka, topics.requests, asMessages(events)),
      start: async (providers: ProviderRegistry) => {
        const pricing = await startPricing({
          kafka,
          clickhouse,
          logger: quietLogger(),
          metrics: createMetricsRegistry(),
          providers,
          topics,
          groupId,
          graceMs: 0, // no account snapshots: users are billed as free users at once
          schedule: null,
          now: () => world.clock,
          deadlineMs: DEADLINE_MS,
          retry: { baseDelayMs: 5, maxDelayMs: 10 },
          maxWaitMs: 100,
        });
        running.push(pricing);
        return pricing;
      },
      stop: async (pricing: PricingService) => {
        await pricing.stop();
        running.splice(running.indexOf(pricing), 1);
      },
    };
    return world;
  }

  const at = (date: Date) => (e: RoutedRequestEvent) => ({ ...e, timestamp: date.toISOString() });

  async function rows<T>(query: string, ids: string[]): Promise<T[]> {
    const result = await clickhouse.query({
      query,
      query_params: { ids },
      format: 'JSONEachRow',
    });
    return result.json<T>();
  }
  const ledgerOf = (ids: string[]) =>
    rows<{ request_id: string; billed_account: string; cost: string }>(
      `SELECT request_id, billed_account, toString(cost_nano_usd) AS cost
       FROM billing.ledger WHERE request_id IN {ids:Array(String)} ORDER BY request_id`,
      ids,
    );
  const unpricedOf = (ids: string[]) =>
    rows<{ request_id: string; reason: string; alert_id: string }>(
      `SELECT request_id, reason, alert_id FROM billing.unpriced_entries FINAL
       WHERE request_id IN {ids:Array(String)} ORDER BY request_id`,
      ids,
    );
  const pendingOf = async (pricing: PricingService, n: number) =>
    waitFor(`${n} requests pending`, async () => (pricing.pendingCount() === n ? true : undefined));

  it('hf-inference: a request without a price waits until the deadline; a price added meanwhile is used; then unpriced, alerted', async () => {
    const world = await scenario();
    const [noCompute, newHardware] = routedEvents('hf-inference', 2, 11).map(at(world.t0));
    const events = [
      { ...noCompute!, computeTimeMs: undefined, hardware: undefined },
      { ...newHardware!, computeTimeMs: 10_000, hardware: 'nvidia-h200' },
    ];
    const ids = events.map((e) => e.requestId);
    const first = await world.start(parseProviders({ 'hf-inference': { hardware: HARDWARE } }));
    await world.send(events);
    await pendingOf(first, 2);
    const before = await first.priceNow();
    // Neither can be priced yet, and neither is unpriced before its deadline.
    expect(before).toMatchObject({ priced: 0, unpriced: 0, stillPending: 2 });
    expect(await unpricedOf(ids)).toEqual([]);
    await world.stop(first);

    // The price of the new hardware is added to the providers file; pricing restarts with it.
    const withH200 = { 'hf-inference': { hardware: { ...HARDWARE, 'nvidia-h200': '0.0005' } } };
    const second = await world.start(parseProviders(withH200));
    await pendingOf(second, 2);
    expect(await second.priceNow()).toMatchObject({ priced: 1, stillPending: 1 });
    expect(await ledgerOf(ids)).toEqual([
      { request_id: newHardware!.requestId, billed_account: newHardware!.userId, cost: '5000000' },
    ]);

    world.clock = new Date(world.t0.getTime() + DEADLINE_MS + MINUTE);
    expect(await second.priceNow()).toMatchObject({ unpriced: 1, stillPending: 0 });
    const [unpriced] = await unpricedOf(ids);
    expect(unpriced).toMatchObject({
      request_id: noCompute!.requestId,
      reason: 'hf-inference request without computeTimeMs and hardware',
    });
    const alert = await waitFor('the unpriced alert', async () =>
      world.alerts().find((a) => a.alertId === unpriced!.alert_id),
    );
    expect(alert).toMatchObject({
      type: 'unpriced_requests',
      provider: 'hf-inference',
      details: {
        count: 1,
        reasons: { 'hf-inference request without computeTimeMs and hardware': 1 },
      },
    });
  });

  it('a provider removed from the providers file: its pending requests reach the deadline, unpriced as provider_not_configured, alerted', async () => {
    const world = await scenario();
    const { simulator, registry, file } = await simulatedProviders({
      'sim-gone': { faults: [{ kind: 'status', status: 503 }] },
      'sim-stays': {},
    });
    closers.push(() => simulator.close());
    const gone = routedEvents('sim-gone', 5, 21).map(at(world.t0));
    const stays = routedEvents('sim-stays', 3, 22).map(at(world.t0));
    const first = await world.start(registry);
    await world.send([...gone, ...stays]);
    await pendingOf(first, 8);
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const { 'sim-gone': _removed, ...without } = file;
    const second = await world.start(parseProviders(without));
    await pendingOf(second, 8);
    expect(await second.priceNow()).toMatchObject({ priced: 3, unpriced: 0, stillPending: 5 });
    world.clock = new Date(world.t0.getTime() + DEADLINE_MS + MINUTE);
    expect(await second.priceNow()).toMatchObject({ unpriced: 5, stillPending: 0 });
    const unpriced = await unpricedOf(gone.map((e) => e.requestId));
    expect(unpriced).toHaveLength(5);
    const reason = 'provider_not_configured: "sim-gone" is not in the providers file';
    expect(new Set(unpriced.map((r) => r.reason))).toEqual(new Set([reason]));
    const alert = await waitFor('the unpriced alert', async () =>
      world.alerts().find((a) => a.alertId === unpriced[0]!.alert_id),
    );
    expect(alert).toMatchObject({ provider: 'sim-gone', details: { reasons: { [reason]: 5 } } });
  });

  it('an overdue request already stored under its own id is resolved without an unpriced alert', async () => {
    const world = await scenario();
    const { simulator, registry } = await simulatedProviders({ 'sim-replay': {} });
    closers.push(() => simulator.close());
    const events = routedEvents('sim-replay', 4, 31).map(at(world.t0));
    const pricing = await world.start(registry);
    await world.send(events);
    await pendingOf(pricing, 4);
    expect(await pricing.priceNow()).toMatchObject({ priced: 4 });
    // The events come again (a replay) while the endpoint is down, and stay until the deadline.
    simulator.setFaults('sim-replay', [{ kind: 'status', status: 503 }]);
    await world.send(events);
    await pendingOf(pricing, 4);
    await pricing.priceNow();
    world.clock = new Date(world.t0.getTime() + DEADLINE_MS + MINUTE);
    const report = await pricing.priceNow();
    expect(report).toMatchObject({ unpriced: 0, stillPending: 0 });
    expect(await unpricedOf(events.map((e) => e.requestId))).toEqual([]);
    expect(await ledgerOf(events.map((e) => e.requestId))).toHaveLength(4);
    // Nothing announced what nothing stored (a later alert would be on the topic by now: the
    // round awaits its publish). Other tests' alerts are published again at each start.
    const mine = world.alerts().filter((a) => a.provider === 'sim-replay');
    expect(mine.filter((a) => a.type === 'unpriced_requests')).toEqual([]);
  });

  it('a reused providerRequestId: the first request keeps its price, the others are quarantined with the reason and alerted', async () => {
    const world = await scenario();
    const { simulator, registry } = await simulatedProviders({ 'sim-dup': {} });
    closers.push(() => simulator.close());
    const [a, b, c] = routedEvents('sim-dup', 3, 41).map(at(world.t0));
    const shared = a!.providerRequestId!;
    // b reuses a's id while a is still pending; c reuses it after a is priced.
    const reusedB = { ...b!, userId: 'mallory', providerRequestId: shared };
    const reusedC = { ...c!, userId: 'trudy', providerRequestId: shared };
    const pricing = await world.start(registry);
    await world.send([a!]);
    await pendingOf(pricing, 1);
    world.clock = new Date(world.t0.getTime() + 1_000); // b is seen after a
    await world.send([reusedB]);
    await waitFor('b consumed', async () =>
      (
        await rows(
          'SELECT 1 FROM billing.pricing_pending WHERE request_id IN {ids:Array(String)}',
          [reusedB.requestId],
        )
      ).length === 1
        ? true
        : undefined,
    );
    await pricing.priceNow();
    await world.send([reusedC]);
    await pendingOf(pricing, 1);
    await pricing.priceNow();
    expect(pricing.pendingCount()).toBe(0);

    const ids = [a!.requestId, reusedB.requestId, reusedC.requestId];
    expect(await ledgerOf(ids)).toEqual([
      {
        request_id: a!.requestId,
        billed_account: a!.userId,
        cost: String(trueCostNanoUsd('sim-dup', shared)),
      },
    ]);
    expect(await unpricedOf(ids)).toEqual([]);
    const quarantined = await rows<{ request_id: string; reason: string; kept_request_id: string }>(
      `SELECT request_id, reason, kept_request_id FROM billing.pricing_duplicates FINAL
       WHERE request_id IN {ids:Array(String)} ORDER BY request_id`,
      ids,
    );
    expect(quarantined).toEqual(
      [reusedB, reusedC]
        .map((e) => ({
          request_id: e.requestId,
          reason: 'duplicate_provider_request_id',
          kept_request_id: a!.requestId,
        }))
        .sort((x, y) => x.request_id.localeCompare(y.request_id)),
    );
    const alerts = await waitFor('two duplicate alerts', async () => {
      const found = world
        .alerts()
        .filter((x) => x.provider === 'sim-dup' && x.type === 'unpriced_requests');
      return found.length === 2 ? found : undefined;
    });
    for (const alert of alerts) {
      expect(alert.details).toMatchObject({ reasons: { duplicate_provider_request_id: 1 } });
    }

    // A restart reloads none of them: each is in exactly one place.
    const { rows: reloaded } = await loadPending(clickhouse, [0, 1], { since: world.t0 });
    expect(reloaded.filter((r) => ids.includes(r.request_id))).toEqual([]);
  });

  it('a providerRequestId reused in the next month is quarantined, not booked again in its own month', async () => {
    const world = await scenario();
    const { simulator, registry } = await simulatedProviders({ 'sim-months': {} });
    closers.push(() => simulator.close());
    // a on the last minute of the previous month, b at the first instant of this one: the
    // ledger's partitions are months, so FINAL keeps one row of each.
    const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth()));
    const [a, b] = routedEvents('sim-months', 2, 43);
    const first = at(new Date(monthStart.getTime() - MINUTE))(a!);
    const reused = { ...at(monthStart)(b!), providerRequestId: first.providerRequestId };
    const pricing = await world.start(registry);
    await world.send([first]);
    await pendingOf(pricing, 1);
    expect(await pricing.priceNow()).toMatchObject({ priced: 1 });
    await world.send([reused]);
    await pendingOf(pricing, 1);
    expect(await pricing.priceNow()).toMatchObject({ priced: 0, quarantined: 1 });

    const ids = [first.requestId, reused.requestId];
    expect((await ledgerOf(ids)).map((r) => r.request_id)).toEqual([first.requestId]);
    const quarantined = await rows<{ request_id: string; kept_request_id: string }>(
      `SELECT request_id, kept_request_id FROM billing.pricing_duplicates FINAL
       WHERE request_id IN {ids:Array(String)}`,
      ids,
    );
    expect(quarantined).toEqual([
      { request_id: reused.requestId, kept_request_id: first.requestId },
    ]);
  });

  it("uses each provider's retries setting from the providers file", async () => {
    const world = await scenario();
    const { simulator, file } = await simulatedProviders({
      'sim-once': { faults: [{ kind: 'status', status: 503 }] },
      'sim-thrice': { faults: [{ kind: 'status', status: 503 }] },
    });
    closers.push(() => simulator.close());
    const configured = {
      ...file,
      'sim-once': { ...(file['sim-once'] as object), retries: 0 },
      'sim-thrice': { ...(file['sim-thrice'] as object), retries: 3 },
    };
    const pricing = await world.start(parseProviders(configured));
    await world.send([
      ...routedEvents('sim-once', 2, 51).map(at(world.t0)),
      ...routedEvents('sim-thrice', 2, 52).map(at(world.t0)),
    ]);
    await pendingOf(pricing, 4);
    // One call per provider (2 ids each): 1 attempt for sim-once, 1 + 3 for sim-thrice.
    expect((await pricing.priceNow()).calls).toBe(1 + 4);
  });
});
