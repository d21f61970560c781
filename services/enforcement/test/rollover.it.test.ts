import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStatusView } from '@nanobill/api';
import { AccountHistory } from '@nanobill/attribution';
import type { AccountSnapshot, AccountStatus } from '@nanobill/contract';
import { createProducer } from '@nanobill/kafka';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import { quietLogger, readTopic, testClickHouse, testKafka } from '@nanobill/testkit';
import { Enforcer, type EnforcementService } from '../src/index.js';
import {
  enforcementTopics,
  org,
  pricedProvider,
  startTestEnforcement,
  storeSnapshots,
} from './support.js';

// Issue 13: at a month turn every account's status is decided again. 20,000 of them (~8 MB of
// statuses) in one send exceeded the broker's limit and was retried forever; now they go out in
// bounded sends, and the statuses of idle accounts leave the topic (tombstones).

const ORGS = 10_000;
const USERS = 10_000;
const MARCH_END = new Date('2026-03-31T23:59:00.000Z');
const APRIL_START = new Date('2026-04-01T00:00:30.000Z');

describe('enforcement month turn with 20,000 accounts (real broker)', () => {
  const kafka = testKafka();
  let topics: Awaited<ReturnType<typeof enforcementTopics>>;
  let clock = MARCH_END;
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let simulator: ProviderSimulator;
  let service: EnforcementService;
  const orgIds = Array.from({ length: ORGS }, (_, i) => `org-${i}`);
  const userIds = Array.from({ length: USERS }, (_, i) => `user-${i}`);

  beforeAll(async () => {
    topics = await enforcementTopics(kafka, 'turn', 3); // 3 partitions, as in production
    ch = await testClickHouse();
    const provider = await pricedProvider();
    simulator = provider.simulator;
    // Orgs with a disabled provider: the router needs their statuses every month.
    const snapshots: AccountSnapshot[] = orgIds.map((id) =>
      org(id, '2026-03-01T00:00:00.000Z', { members: [`m-${id}`], disabledProviders: ['groq'] }),
    );
    await storeSnapshots(ch.client, snapshots);
    // March's statuses, as a previous instance published them: decided by the same rules.
    const history = new AccountHistory();
    for (const s of snapshots) history.add(s);
    const march = new Enforcer(MARCH_END, { history, graceMs: 0 });
    march.factsChanged([...orgIds, ...userIds]);
    const { statuses } = march.decide(MARCH_END);
    expect(statuses).toHaveLength(ORGS + USERS);
    const producer = createProducer(kafka);
    await producer.connect();
    for (let i = 0; i < statuses.length; i += 1_000) {
      await producer.send({
        topic: topics.accountStatus,
        acks: -1,
        messages: statuses
          .slice(i, i + 1_000)
          .map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
      });
    }
    await producer.disconnect();

    service = await startTestEnforcement({
      kafka,
      clickhouse: ch.client,
      providers: provider.registry,
      topics,
      now: () => clock,
    });
  }, 300_000);

  afterAll(async () => {
    await service?.stop();
    await simulator?.close();
    await ch?.client.close();
  });

  it('republishes what the router needs in bounded sends and retires the idle accounts', async () => {
    // Nothing changed since March's statuses were published: the start publishes nothing.
    expect(service.status('org-0')?.month).toBe('2026-03');
    clock = APRIL_START;
    await service.tick(); // the month turns: one tick publishes every account's April status

    const all = await readTopic(kafka, topics.accountStatus, 2 * (ORGS + USERS), 120_000);
    const latest = new Map<string, Buffer | null>();
    for (const m of all) latest.set(m.key!.toString(), m.value);
    expect(latest.size).toBe(ORGS + USERS);
    const april = orgIds.map((id) => JSON.parse(latest.get(id)!.toString()) as AccountStatus);
    expect(
      new Set(april.map((s) => `${s.month} ${s.status} ${s.disabledProviders.join()}`)),
    ).toEqual(new Set(['2026-04 ok groq']));
    // Free users idle in April: a tombstone each (readers take a missing status for ok).
    expect(userIds.filter((id) => latest.get(id) !== null)).toEqual([]);
    expect(service.status('user-0')).toBeUndefined();
    expect(service.status('org-0')?.month).toBe('2026-04');

    // The API's view (GET /v1/accounts/{id}/status) reads a tombstone as "no status": 404, ok.
    const view = await startStatusView({
      kafka,
      topic: topics.accountStatus,
      logger: quietLogger(),
    });
    try {
      await view.ready;
      expect(view.size).toBe(ORGS);
      expect(view.get('user-0')).toBeUndefined();
      expect(view.get('org-0')).toMatchObject({ month: '2026-04', status: 'ok' });
    } finally {
      await view.stop();
    }
  }, 300_000);
});
