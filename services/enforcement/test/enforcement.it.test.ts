import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountStatus, Alert } from '@nanobill/contract';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import {
  collectTopic,
  produce,
  queryValue,
  testClickHouse,
  testKafka,
  waitFor,
} from '@nanobill/testkit';
import type { EnforcementService } from '../src/index.js';
import {
  ESTIMATE_PER_REQUEST,
  asMessages,
  enforcementTopics,
  insertLedger,
  llmEvent,
  org,
  pricedProvider,
  startTestEnforcement,
  statusesOf,
  storeSnapshots,
  user,
} from './support.js';

const LIMIT = 1_000_000_000; // $1.00

describe('enforcement against a real broker and ClickHouse (controllable clock)', () => {
  const kafka = testKafka();
  let topics: Awaited<ReturnType<typeof enforcementTopics>>;
  let clock = new Date('2026-03-31T22:00:00.000Z');
  const later = (ms: number) => (clock = new Date(clock.getTime() + ms));
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let simulator: ProviderSimulator;
  let service: EnforcementService;
  let statuses: Awaited<ReturnType<typeof collectTopic>>;
  let alerts: Awaited<ReturnType<typeof collectTopic>>;
  /** The statuses published, in order (tombstones left out: see `latest`). */
  const published = () =>
    statuses.messages
      .filter((m) => m.value !== null)
      .map((m) => JSON.parse(m.value!.toString()) as AccountStatus);
  /** The topic's latest value for an account: a status, null (a tombstone: ok), or undefined. */
  const latest = (accountId: string) =>
    statuses.messages.findLast((m) => m.key?.toString() === accountId)?.value;

  beforeAll(async () => {
    topics = await enforcementTopics(kafka, 'it');
    ch = await testClickHouse();
    const provider = await pricedProvider();
    simulator = provider.simulator;
    await storeSnapshots(ch.client, [
      org('acme', '2026-03-01T00:00:00.000Z', { members: ['alice'], limit: LIMIT }),
      org('globex', '2026-03-01T00:00:00.000Z', { members: ['bob'], limit: LIMIT }),
      user('alice', 'pro', '2026-03-01T00:00:00.000Z'),
      user('bob', 'pro', '2026-03-01T00:00:00.000Z'),
      user('freebie', 'free', '2026-03-01T00:00:00.000Z'),
    ]);
    service = await startTestEnforcement({
      kafka,
      clickhouse: ch.client,
      providers: provider.registry,
      topics,
      now: () => clock,
      ledgerOverlapMs: 1_000,
    });
    statuses = await collectTopic(kafka, topics.accountStatus);
    alerts = await collectTopic(kafka, topics.alerts);
  }, 120_000);

  afterAll(async () => {
    await statuses?.stop();
    await alerts?.stop();
    await service?.stop();
    await simulator?.close();
    await ch?.client.close();
  });

  it('blocks an org at its $1.00 limit from estimates alone, before any cost call', async () => {
    // Steady traffic: 20 requests every 50 ms (400/s), $0.00125 each by published price.
    let sent = 0;
    while (!statusesOf(published(), 'acme').some((s) => s.status === 'blocked')) {
      if (sent > 4_000) throw new Error('never blocked');
      const batch = Array.from({ length: 20 }, () => llmEvent('alice', later(10), 'acme'));
      await produce(kafka, topics.requests, asMessages(batch));
      sent += batch.length;
      await sleep(50);
    }
    const acme = statusesOf(published(), 'acme');
    expect(acme.map((s) => s.status)).toEqual(['ok', 'warning', 'blocked']);
    const blocked = acme[2]!;
    expect(blocked).toMatchObject({ basis: 'spending_limit', limitNanoUsd: String(LIMIT) });
    expect(blocked.pricedNanoUsd).toBe('0'); // nothing priced: the block came from estimates
    expect(simulator.calls()).toEqual([]); // and no cost endpoint was ever asked
    const overshoot = BigInt(blocked.spendNanoUsd) - BigInt(LIMIT);
    expect(overshoot).toBeGreaterThanOrEqual(0n);
    expect(BigInt(blocked.spendNanoUsd) % ESTIMATE_PER_REQUEST).toBe(0n);
    const warning = acme[1]!;
    expect(BigInt(warning.spendNanoUsd) * 100n).toBeGreaterThanOrEqual(80n * BigInt(LIMIT));
    expect(BigInt(warning.spendNanoUsd)).toBeLessThan(BigInt(LIMIT));
    console.log(
      `[enforcement] $1.00 limit, ${sent} requests sent at ~400/s: blocked at spend ` +
        `${blocked.spendNanoUsd} nano-USD, overshoot ${overshoot} nano-USD ` +
        `(${overshoot / ESTIMATE_PER_REQUEST} requests past the limit)`,
    );

    // 50 %, 80 % and 100 % of the limit alert once each.
    await waitFor('three threshold alerts', async () =>
      alerts.values<Alert>().filter((a) => a.accountId === 'acme').length >= 3 ? true : undefined,
    );
    const acmeAlerts = alerts.values<Alert>().filter((a) => a.accountId === 'acme');
    expect(acmeAlerts.map((a) => a.alertId)).toEqual([
      'threshold:2026-03:acme:limit_50',
      'threshold:2026-03:acme:limit_80',
      'threshold:2026-03:acme:limit_100',
    ]);
    expect(acmeAlerts.every((a) => a.type === 'spend_threshold')).toBe(true);
  }, 120_000);

  it('lifts the block at once when the limit is raised', async () => {
    await storeSnapshots(ch.client, [
      org('acme', later(1).toISOString(), { members: ['alice'], limit: 10 * LIMIT }),
    ]);
    await service.tick();
    const latest = await waitFor('acme unblocked', async () => {
      const last = statusesOf(published(), 'acme').at(-1);
      return last?.status === 'ok' ? last : undefined;
    });
    expect(latest).toMatchObject({ limitNanoUsd: String(10 * LIMIT), basis: 'spending_limit' });
  });

  it('replaces estimates with real costs from the ledger, never adding both', async () => {
    const events = Array.from({ length: 100 }, () => llmEvent('bob', later(10), 'globex'));
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('globex estimated', async () => {
      const last = statusesOf(published(), 'globex').at(-1);
      return last ? true : undefined;
    });
    // Real costs are 8× the estimates: $0.01 each, $1.00 in all, exactly the limit.
    await insertLedger(ch.client, events, 'globex', 10_000_000n);
    const blocked = await waitFor('globex blocked by real costs', async () => {
      await service.tick();
      const last = statusesOf(published(), 'globex').at(-1);
      return last?.status === 'blocked' ? last : undefined;
    });
    expect(blocked).toMatchObject({
      spendNanoUsd: String(LIMIT),
      pricedNanoUsd: String(LIMIT),
      estimatedNanoUsd: '0',
    });
    expect(await queryValue(ch.client, 'SELECT count() FROM billing.ledger')).toBe('100');
  });

  it('blocks a free user at $0.10 of credits, and lets them in again next month', async () => {
    // A free user ($0.10 a month; a user without any snapshot is one too, once the attribution
    // grace is over). 80 requests × $0.00125 = $0.10.
    const events = Array.from({ length: 80 }, () => llmEvent('freebie', later(10)));
    await produce(kafka, topics.requests, asMessages(events));
    const blocked = await waitFor('freebie blocked', async () =>
      statusesOf(published(), 'freebie').find((s) => s.status === 'blocked'),
    );
    expect(blocked).toMatchObject({
      kind: 'user',
      plan: 'free',
      basis: 'credits',
      month: '2026-03',
      spendNanoUsd: '100000000',
      limitNanoUsd: '100000000',
    });
    await waitFor('credits exhausted alert', async () =>
      alerts
        .values<Alert>()
        .find((a) => a.alertId === 'threshold:2026-03:freebie:credits_exhausted'),
    );

    clock = new Date('2026-04-01T00:00:00.500Z'); // the month turns (UTC)
    await service.tick();
    // Idle in April and ok: March's status is retired (a tombstone, which readers take for ok).
    await waitFor('freebie let in again in April', async () =>
      latest('freebie') === null ? true : undefined,
    );
    // Every account blocked in March is let in again too (idle as well: a tombstone).
    await waitFor('globex let in again in April', async () =>
      latest('globex') === null ? true : undefined,
    );
    expect(service.status('freebie')).toBeUndefined();
    // A late March request still arriving does not count against April.
    await produce(
      kafka,
      topics.requests,
      asMessages([llmEvent('freebie', new Date('2026-03-31T23:59:59.000Z'))]),
    );
    const one = llmEvent('freebie', later(10));
    await produce(kafka, topics.requests, asMessages([one]));
    const april = await waitFor('the April request counted', async () => {
      const spend = service.spend('freebie');
      return spend.outstanding > 0 ? spend : undefined;
    });
    // Only April's request: the late March one is not April's, and March is forgotten.
    expect(april).toEqual({
      priced: 0n,
      estimated: ESTIMATE_PER_REQUEST,
      spend: ESTIMATE_PER_REQUEST,
      outstanding: 1,
    });
  });
});
