import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAccounts } from '@nanobill/accounts-service';
import type { AccountStatus, Alert, RoutedRequestEvent } from '@nanobill/contract';
import { ensureTopics } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import type { ProviderSimulator } from '@nanobill/provider-simulator';
import {
  collectTopic,
  produce,
  quietLogger,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { waitForAccountHistory } from '../src/catch-up.js';
import type { EnforcementService } from '../src/index.js';
import {
  ESTIMATE_PER_REQUEST,
  asMessages,
  enforcementTopics,
  llmEvent,
  org,
  pricedProvider,
  startTestEnforcement,
  statusesOf,
  user,
} from './support.js';

// Issue 13, item 11: a fresh deployment. The hub's snapshots and the router's requests are on
// their topics before the pipeline starts; accounts and enforcement start together. Enforcement
// must not decide before the account history has caught up with billing.accounts.v1.

const LIMIT = 1_000_000_000; // $1.00
const ORG_REQUESTS = 2_400; // $3.00 of estimates
const PRO_REQUESTS = 100; // $0.125: past a free user's credits
/** The requests finished at 12:00; enforcement starts at 12:10, past the attribution grace. */
const REQUESTS_AT = new Date('2026-03-10T12:00:00.000Z');
const STARTED_AT = new Date('2026-03-10T12:10:00.000Z');

describe('enforcement waits for the account history before deciding (real broker + ClickHouse)', () => {
  const kafka = testKafka();
  let topics: Awaited<ReturnType<typeof enforcementTopics>>;
  const accountsTopics = { accounts: uniqueName('facts-accounts'), dlq: uniqueName('facts-dlq') };
  const accountsGroup = uniqueName('accounts');
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let simulator: ProviderSimulator;
  let service: EnforcementService;
  let accounts: { stop(): Promise<void> };
  let statuses: Awaited<ReturnType<typeof collectTopic>>;
  let alerts: Awaited<ReturnType<typeof collectTopic>>;

  beforeAll(async () => {
    topics = await enforcementTopics(kafka, 'facts');
    await ensureTopics(kafka, [
      {
        topic: accountsTopics.accounts,
        numPartitions: 3,
        configs: { 'cleanup.policy': 'compact' },
      },
      { topic: accountsTopics.dlq, numPartitions: 1 },
    ]);
    ch = await testClickHouse();
    const provider = await pricedProvider();
    simulator = provider.simulator;
    // First the hub's snapshots, then the router's requests: all before the pipeline starts.
    const snapshots = [
      user('pat', 'pro', '2026-03-01T00:00:00.000Z'),
      user('mia', 'free', '2026-03-01T00:00:00.000Z'),
      org('acme', '2026-03-01T00:00:00.000Z', { members: ['mia'], limit: LIMIT }),
    ];
    await produce(
      kafka,
      accountsTopics.accounts,
      snapshots.map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
    );
    const events: RoutedRequestEvent[] = [
      ...Array.from({ length: ORG_REQUESTS }, () => llmEvent('mia', REQUESTS_AT, 'acme')),
      ...Array.from({ length: PRO_REQUESTS }, () => llmEvent('pat', REQUESTS_AT)),
    ];
    await produce(kafka, topics.requests, asMessages(events));
    statuses = await collectTopic(kafka, topics.accountStatus);
    alerts = await collectTopic(kafka, topics.alerts);

    // The pipeline starts: accounts and enforcement at once.
    [service, accounts] = await Promise.all([
      startTestEnforcement({
        kafka,
        clickhouse: ch.client,
        providers: provider.registry,
        topics,
        now: () => STARTED_AT,
        accountsFeed: { topic: accountsTopics.accounts, groupId: accountsGroup },
      }),
      startAccounts({
        kafka,
        clickhouse: ch.client,
        logger: quietLogger(),
        metrics: createMetricsRegistry(),
        topics: accountsTopics,
        groupId: accountsGroup,
      }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await statuses?.stop();
    await alerts?.stop();
    await service?.stop();
    await accounts?.stop();
    await simulator?.close();
    await ch?.client.close();
  });

  it('charges the org, blocks it at its limit, and blocks neither the PRO user nor the member', async () => {
    await waitFor('every request estimated', async () => {
      await service.tick();
      const org = service.spend('acme').outstanding + service.spend('mia').outstanding;
      return org === ORG_REQUESTS && service.spend('pat').outstanding === PRO_REQUESTS
        ? true
        : undefined;
    });
    expect(service.spend('acme').spend).toBe(BigInt(ORG_REQUESTS) * ESTIMATE_PER_REQUEST);
    expect(service.spend('mia').spend).toBe(0n);
    await waitFor('acme blocked', async () =>
      statusesOf(published(), 'acme').find((s) => s.status === 'blocked'),
    );
    for (const account of ['pat', 'mia']) {
      expect(statusesOf(published(), account).map((s) => s.status)).not.toContain('blocked');
    }
    expect(statusesOf(published(), 'pat').at(-1)).toMatchObject({ plan: 'pro', status: 'ok' });
    const raised = alerts.values<Alert>().map((a) => a.alertId);
    expect(raised).not.toContain('threshold:2026-03:pat:credits_exhausted');
    expect(raised).not.toContain('threshold:2026-03:mia:credits_exhausted');
  }, 180_000);

  const published = () => statuses.values<AccountStatus>();
});

describe('waitForAccountHistory: a bounded wait (real broker)', () => {
  const kafka = testKafka();

  it('has nothing to wait for on an empty topic, and gives up on a group that never commits', async () => {
    const topic = uniqueName('facts-feed');
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    const signal = new AbortController().signal;
    const feed = { topic, groupId: uniqueName('never-runs') };
    expect(await waitForAccountHistory(kafka, feed, { timeoutMs: 1_000, signal })).toBe(
      'nothing_to_read',
    );
    await produce(kafka, topic, [{ key: 'pat', value: '{}' }]);
    expect(await waitForAccountHistory(kafka, feed, { timeoutMs: 500, signal, pollMs: 100 })).toBe(
      'timed_out',
    );
  }, 60_000);
});
