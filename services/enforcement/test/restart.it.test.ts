import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import type { ProviderRegistry } from '@nanobill/providers';
import { produce, testClickHouse, testKafka, waitFor } from '@nanobill/testkit';
import type { EnforcementService } from '../src/index.js';
import {
  ESTIMATE_PER_REQUEST,
  asMessages,
  enforcementTopics,
  insertLedger,
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

  const start = async () => {
    const topics = await enforcementTopics(kafka, 'restart');
    const service = await startTestEnforcement({
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
});
