import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@nanobill/observability';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import type { ProviderRegistry } from '@nanobill/providers';
import { produce, testClickHouse, testKafka, waitFor } from '@nanobill/testkit';
import type { EnforcementService } from '../src/index.js';
import {
  ESTIMATE_PER_REQUEST,
  asMessages,
  enforcementTopics,
  insertLedger,
  insertQuarantined,
  insertUnpriced,
  insertUsage,
  llmEvent,
  pricedProvider,
  startTestEnforcement,
} from './support.js';

// Restarts against a real broker and ClickHouse, on the real clock (the ledger is followed by
// the time ClickHouse stored each row): what the start-up rebuild counts, and what it must not.

const SEVEN_CENTS = 70_000_000n;

describe('enforcement restart: the month-to-date spend is rebuilt exactly', () => {
  const kafka = testKafka();
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let simulator: ProviderSimulator;
  let registry: ProviderRegistry;
  const running: EnforcementService[] = [];

  const start = async (options: { priceMemoryMs?: number } = {}) => {
    const topics = await enforcementTopics(kafka, 'restart');
    const service = await startTestEnforcement({
      ...options,
      kafka,
      clickhouse: ch.client,
      providers: registry,
      topics,
      now: () => new Date(), // the real clock: ClickHouse stamps inserted_at with it
      graceMs: 0, // users without snapshots are free users at once (no facts to wait for)
      // The default overlap of successive ledger reads (a minute), as in production.
    });
    running.push(service);
    return { service, topics };
  };

  beforeAll(async () => {
    ch = await testClickHouse();
    ({ simulator, registry } = await pricedProvider());
  }, 120_000);

  afterAll(async () => {
    for (const service of running) await service.stop();
    await simulator?.close();
    await ch?.client.close();
  });

  it('a ledger row stored 90 s before the start counts once (a free user at $0.07 stays ok)', async () => {
    const row = llmEvent('zoe', new Date(Date.now() - 90_000));
    await insertLedger(ch.client, [row], 'zoe', SEVEN_CENTS, new Date(Date.now() - 90_000));
    const { service } = await start();
    await service.tick();
    await service.tick();
    expect(service.spend('zoe')).toEqual({
      priced: SEVEN_CENTS,
      estimated: 0n,
      spend: SEVEN_CENTS,
      outstanding: 0,
    });
    expect(service.status('zoe')).toMatchObject({ status: 'ok', spendNanoUsd: '70000000' });
  }, 120_000);

  it('requests already unpriced get no estimate back at start-up; priced ones count their cost', async () => {
    const unpriced = llmEvent('uma', new Date(Date.now() - 60_000));
    const pending = llmEvent('uma', new Date(Date.now() - 60_000));
    const priced = llmEvent('uma', new Date(Date.now() - 60_000));
    await insertUsage(ch.client, [unpriced, pending, priced]);
    // Stored before the start-up cut: only the rebuild itself can leave it out.
    const before = new Date(Date.now() - 90_000);
    await insertUnpriced(ch.client, [unpriced], before);
    await insertLedger(ch.client, [priced], 'uma', 3n, before);
    const { service } = await start();
    await service.tick();
    expect(service.spend('uma')).toEqual({
      priced: 3n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST + 3n,
      outstanding: 1,
    });
  }, 120_000);

  it('events consumed after the start whose requests were settled before it get no estimate', async () => {
    // Enforcement was down while pricing went on: its backlog holds requests already priced or
    // unpriced, stored before the start-up cut (only summed, or left out, by the rebuild).
    const at = new Date(Date.now() - 60_000);
    const [priced, unpriced, open] = [
      llmEvent('rita', at),
      llmEvent('rita', at),
      llmEvent('rita', at),
    ];
    const before = new Date(Date.now() - 90_000);
    await insertLedger(ch.client, [priced!], 'rita', 3n, before);
    await insertUnpriced(ch.client, [unpriced!], before);
    const topics = await enforcementTopics(kafka, 'restart-backlog');
    await produce(kafka, topics.requests, asMessages([priced!, unpriced!, open!]));
    const metrics = createMetricsRegistry();
    const service = await startTestEnforcement({
      kafka,
      clickhouse: ch.client,
      providers: registry,
      topics,
      metrics,
      now: () => new Date(),
      graceMs: 0,
    });
    running.push(service);
    await waitFor('the backlog consumed', async () => {
      const events = await metrics.getSingleMetric('nanobill_enforcement_events_total')!.get();
      return events.values.reduce((n, v) => n + v.value, 0) === 3 ? true : undefined;
    });
    await service.tick();
    expect(service.spend('rita')).toEqual({
      priced: 3n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST + 3n,
      outstanding: 1,
    });
  }, 120_000);

  it('an estimate leaves the spend when its request becomes unpriced, and a later price counts once', async () => {
    const { service, topics } = await start();
    const events = [llmEvent('ursula', new Date()), llmEvent('ursula', new Date())];
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('both estimated', async () =>
      service.spend('ursula').outstanding === 2 ? true : undefined,
    );
    await insertUnpriced(ch.client, [events[0]!]);
    await service.tick();
    expect(service.spend('ursula')).toEqual({
      priced: 0n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST,
      outstanding: 1,
    });
    // The ledger is the truth for money: a price arriving after all (a race of two pricing
    // instances, a correction) counts, once; the other estimate is still there.
    await insertLedger(ch.client, [events[0]!], 'ursula', 5n);
    await service.tick();
    await service.tick();
    expect(service.spend('ursula')).toEqual({
      priced: 5n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST + 5n,
      outstanding: 1,
    });
    expect(service.books().accounts).toContainEqual({
      accountId: 'ursula',
      priced: 5n,
      estimated: ESTIMATE_PER_REQUEST,
      outstanding: 1,
    });
  }, 120_000);

  // A request quarantined for reusing another's provider request id (billing.pricing_duplicates)
  // shares its key with the request that keeps the id: its estimate must leave the spend, and
  // the keeper's estimate or price must stay (docs/architecture.md "Spending limits").
  const nothing = { priced: 0n, estimated: 0n, spend: 0n, outstanding: 0 };
  const pricedOnly = (cost: bigint) => ({
    priced: cost,
    estimated: 0n,
    spend: cost,
    outstanding: 0,
  });

  it("a quarantined request's estimate leaves the spend after the keeper's price was forgotten; that price stays", async () => {
    // The keeper's price, stored after the start-up cut (so followed) but longer ago than
    // `priceMemoryMs`: the tick that reads it forgets its key, as happens in production.
    const { service, topics } = await start({ priceMemoryMs: 10_000 });
    const keeper = llmEvent('quinn', new Date());
    await insertLedger(ch.client, [keeper], 'quinn', SEVEN_CENTS, new Date(Date.now() - 30_000));
    await service.tick();
    expect(service.spend('quinn')).toEqual(pricedOnly(SEVEN_CENTS));
    const reused = {
      ...llmEvent('mallory', new Date()),
      providerRequestId: keeper.providerRequestId,
    };
    await produce(kafka, topics.requests, asMessages([reused]));
    await waitFor('the reused request estimated under the forgotten key', async () =>
      service.spend('mallory').outstanding === 1 ? true : undefined,
    );
    await insertQuarantined(ch.client, [reused], keeper.requestId);
    await service.tick();
    expect(service.spend('mallory')).toEqual(nothing);
    expect(service.spend('quinn')).toEqual(pricedOnly(SEVEN_CENTS));
  }, 120_000);

  it("a request quarantined while its keeper waits for a cost leaves the keeper's estimate, then its price, alone", async () => {
    const { service, topics } = await start();
    const keeper = llmEvent('kim', new Date());
    await produce(kafka, topics.requests, asMessages([keeper]));
    await waitFor('the keeper estimated', async () =>
      service.spend('kim').outstanding === 1 ? true : undefined,
    );
    const estimated = service.spend('kim');
    const [early, late] = [llmEvent('mallet', new Date()), llmEvent('mallet', new Date())].map(
      (e) => ({ ...e, providerRequestId: keeper.providerRequestId }),
    );
    await insertQuarantined(ch.client, [early!], keeper.requestId);
    await service.tick();
    expect(service.spend('kim')).toEqual(estimated);
    await insertLedger(ch.client, [keeper], 'kim', SEVEN_CENTS);
    await service.tick();
    await insertQuarantined(ch.client, [late!], keeper.requestId);
    await service.tick();
    expect(service.spend('kim')).toEqual(pricedOnly(SEVEN_CENTS));
    expect(service.spend('mallet')).toEqual(nothing);
  }, 120_000);

  it('the start-up rebuild gives no estimate back to quarantined requests', async () => {
    // Kept by a request priced three days ago (outside the rebuild's look-up of the ledger), and
    // by one still pending; both reuses quarantined before the start-up cut.
    const before = new Date(Date.now() - 90_000);
    const pricedKeeper = llmEvent('keith', new Date(Date.now() - 3 * 24 * 60 * 60_000));
    await insertLedger(ch.client, [pricedKeeper], 'keith', SEVEN_CENTS, before);
    const pendingKeeper = llmEvent('kate', new Date(Date.now() - 60_000));
    const reuses = [pricedKeeper, pendingKeeper].map((keeper) => ({
      ...llmEvent('mallow', new Date(Date.now() - 60_000)),
      providerRequestId: keeper.providerRequestId,
    }));
    await insertUsage(ch.client, [...reuses, pendingKeeper]);
    await insertQuarantined(ch.client, [reuses[0]!], pricedKeeper.requestId, before);
    await insertQuarantined(ch.client, [reuses[1]!], pendingKeeper.requestId, before);
    const { service } = await start();
    await service.tick();
    expect(service.spend('mallow')).toEqual(nothing);
    expect(service.spend('kate')).toEqual({
      priced: 0n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST,
      outstanding: 1,
    });
  }, 120_000);
});
