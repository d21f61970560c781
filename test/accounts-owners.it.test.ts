import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { startAccounts } from '@nanobill/accounts-service';
import { startApiServer, startStatusView, TokenStore, createToken } from '@nanobill/api';
import type { SettingsMessage, StatusView } from '@nanobill/api';
import { AccountHistory } from '@nanobill/attribution';
import { openFinanceSql, type ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountSnapshot } from '@nanobill/contract';
import { createProducer, ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry, type Registry } from '@nanobill/observability';
import {
  queryValue,
  quietLogger,
  testClickHouse,
  testKafka,
  testWebhookSecrets,
  uniqueName,
} from '@nanobill/testkit';
import {
  dlqByKey,
  endOffset,
  produceRaw,
  readAll,
  waitCommittedPast,
} from './hostile/ingest-support.js';

// The accounts service and the settings route on the real broker and ClickHouse: a snapshot that
// changes an account's kind is refused (DLQ, metric) and never stored; the admin's settings and
// the hub's snapshots each change only their own fields, whatever the lag and arrival order.
describe('account facts: one kind per account, facts have owners', () => {
  let kafka: Kafka;
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let clickhouse: ClickHouseClient;
  let metrics: Registry;
  let accounts: { stop(): Promise<void> } | undefined;
  const topics = {
    accounts: uniqueName('it-accounts'),
    dlq: uniqueName('it-accounts-dlq'),
    status: uniqueName('it-status'),
  };
  const groupId = uniqueName('accounts-owners');
  const tag = uniqueName('own');
  const T0 = Date.now() - 10 * 60_000;
  const iso = (ms: number) => new Date(ms).toISOString();

  const startService = async () => {
    metrics = createMetricsRegistry(); // a restarted service registers its metrics again
    accounts = await startAccounts({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics,
      topics: { accounts: topics.accounts, dlq: topics.dlq },
      groupId,
    });
  };
  /** Sends the messages, then waits until the accounts service committed past them. */
  const send = async (messages: Array<{ key: string; value: unknown }>) => {
    const last = (await endOffset(kafka, topics.accounts)) + BigInt(messages.length) - 1n;
    await produceRaw(
      kafka,
      topics.accounts,
      messages.map((m) => ({ key: m.key, value: JSON.stringify(m.value) })),
    );
    return () => waitCommittedPast(kafka, groupId, topics.accounts, last);
  };
  const facts = async (accountId: string, at: number) => {
    const reader = new AccountFactsReader(clickhouse, new AccountHistory());
    await reader.refresh();
    return reader.history.at(accountId, at);
  };
  const org = (accountId: string, at: number, members: string[], extra = {}): AccountSnapshot =>
    ({
      schemaVersion: 1,
      accountId,
      kind: 'org',
      plan: 'team',
      effectiveAt: iso(at),
      seats: 3,
      members,
      ...extra,
    }) as AccountSnapshot;
  const user = (accountId: string, at: number): AccountSnapshot => ({
    schemaVersion: 1,
    accountId,
    kind: 'user',
    plan: 'pro',
    effectiveAt: iso(at),
  });

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [
      { topic: topics.accounts, numPartitions: 1 },
      { topic: topics.dlq, numPartitions: 1 },
      { topic: topics.status, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
    ]);
    ch = await testClickHouse();
    clickhouse = ch.client;
    await startService();
  });

  afterAll(async () => {
    await accounts?.stop();
    await clickhouse?.close();
  });

  describe('a snapshot that changes the kind', () => {
    it('is refused with the reason (DLQ, metric), never stored; the next snapshots go on', async () => {
      const flipped = `${tag}-flip`;
      const later = `${tag}-later`;
      const wait = await send([
        { key: flipped, value: org(flipped, T0, ['alice']) },
        { key: `${flipped}-as-user`, value: user(flipped, T0 + 60_000) },
        { key: later, value: user(later, T0) },
      ]);
      await wait();
      // Across batches too: the kind stored decides.
      await (
        await send([{ key: `${flipped}-again`, value: user(flipped, T0 + 120_000) }])
      )();

      const kinds = await queryValue<string[]>(
        clickhouse,
        `SELECT groupArray(kind) FROM billing.account_snapshots WHERE account_id = '${flipped}'`,
      );
      expect(kinds).toEqual(['org']);
      expect(await facts(later, T0)).toMatchObject({ kind: 'user' });
      expect(await facts(flipped, T0 + 180_000)).toMatchObject({ kind: 'org', members: ['alice'] });

      const dlq = dlqByKey(await readAll(kafka, topics.dlq));
      for (const key of [`${flipped}-as-user`, `${flipped}-again`]) {
        expect(dlq.get(key)?.code, key).toBe('kind_change');
        expect(dlq.get(key)?.reason, key).toContain(`'${flipped}' is an org`);
      }
      const metric = await metrics.getSingleMetric('nanobill_accounts_kind_changes_total')?.get();
      expect(metric?.values[0]?.value).toBe(2);
    });

    it('a history mixed in storage before the check: the kind first seen holds, the rest is reported', async () => {
      const mixed = `${tag}-mixed`;
      await clickhouse.insert({
        table: 'billing.account_snapshots',
        columns: ['account_id', 'kind', 'plan', 'effective_at', 'snapshot'],
        values: [
          [mixed, 'user', 'free', iso(T0), JSON.stringify(user(mixed, T0))],
          [mixed, 'org', 'team', iso(T0 + 1), JSON.stringify(org(mixed, T0 + 1, ['bob']))],
        ],
        format: 'JSONCompactEachRow',
      });
      const reasons: string[] = [];
      const reader = new AccountFactsReader(clickhouse, new AccountHistory(), (r) =>
        reasons.push(r),
      );
      await reader.refresh();
      expect(reader.history.at(mixed, T0 + 60_000)).toMatchObject({ kind: 'user' });
      expect(reasons.some((r) => r.includes(mixed) && r.includes('org snapshot'))).toBe(true);
      // And a new snapshot of the other kind is refused against the kind first stored.
      await (
        await send([{ key: `${mixed}-org`, value: org(mixed, T0 + 2, ['bob']) }])
      )();
      expect(dlqByKey(await readAll(kafka, topics.dlq)).get(`${mixed}-org`)?.code).toBe(
        'kind_change',
      );
    });
  });

  describe('settings saved through the API and the hub snapshots', () => {
    const acme = `${tag}-acme`;
    let base: string;
    let token: string;
    let view: StatusView;
    let finance: ReturnType<typeof openFinanceSql>;
    let producer: ReturnType<typeof createProducer>;
    let server: { close(): Promise<void>; port: number };

    beforeAll(async () => {
      finance = openFinanceSql({ dataDir: ch.dataDir });
      view = await startStatusView({ kafka, topic: topics.status, logger: quietLogger() });
      producer = createProducer(kafka);
      await producer.connect();
      const publishSettings = async (messages: SettingsMessage[]) => {
        await producer.send({
          topic: topics.accounts,
          acks: -1,
          messages: messages.map((m) => ({ key: m.key, value: JSON.stringify(m.settings) })),
        });
      };
      server = await startApiServer({
        port: 0,
        logger: quietLogger(),
        clickhouse,
        financeSql: finance,
        statuses: view,
        facts: new AccountFactsReader(clickhouse, new AccountHistory()),
        tokens: new TokenStore(clickhouse),
        webhookSecrets: testWebhookSecrets(clickhouse),
        providers: ['groq', 'together'],
        publishSettings,
      });
      base = `http://127.0.0.1:${server.port}`;
      token = (await createToken(clickhouse, { kind: 'org', org: acme })).token;
    });

    afterAll(async () => {
      await server?.close();
      await view?.stop();
      await producer?.disconnect();
      await finance?.close();
    });

    const save = async (body: unknown) => {
      const response = await fetch(`${base}/v1/orgs/${acme}/settings`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      return (await response.json()) as { snapshot: AccountSnapshot };
    };

    it('a save during consumer lag does not revert a membership change from the hub', async () => {
      await (
        await send([{ key: acme, value: org(acme, T0, ['alice']) }])
      )();
      // The accounts service lags: the hub adds bob, the admin (whose view lacks bob) sets a limit.
      await accounts?.stop();
      accounts = undefined;
      const lagging = await send([{ key: acme, value: org(acme, T0 + 60_000, ['alice', 'bob']) }]);
      await save({ spendingLimitNanoUsd: '5000000000', disabledProviders: ['groq'] });
      const last = (await endOffset(kafka, topics.accounts)) - 1n;
      await startService();
      await lagging();
      await waitCommittedPast(kafka, groupId, topics.accounts, last);

      const now = Date.now();
      const merged = await facts(acme, now);
      expect(merged).toMatchObject({
        kind: 'org',
        members: ['alice', 'bob'],
        spendingLimitNanoUsd: '5000000000',
        disabledProviders: ['groq'],
      });
      const history = new AccountHistory();
      await new AccountFactsReader(clickhouse, history).refresh();
      expect(history.isMember(acme, 'bob', now)).toBe(true);
    });

    it("a later hub snapshot that omits the limit keeps the admin's limit", async () => {
      const after = Date.now() + 1_000;
      await (
        await send([{ key: acme, value: org(acme, after, ['alice', 'bob', 'carol']) }])
      )();
      const merged = await facts(acme, after + 1);
      expect(merged).toMatchObject({
        members: ['alice', 'bob', 'carol'],
        spendingLimitNanoUsd: '5000000000',
        disabledProviders: ['groq'],
      });
      // The admin removes it: only then is it gone, and the hub's fields stay.
      const cleared = await save({ spendingLimitNanoUsd: null });
      expect(cleared.snapshot.spendingLimitNanoUsd).toBeUndefined();
      const last = (await endOffset(kafka, topics.accounts)) - 1n;
      await waitCommittedPast(kafka, groupId, topics.accounts, last);
      const now = Math.max(Date.now(), after + 2);
      const final = await facts(acme, now);
      expect(final).not.toHaveProperty('spendingLimitNanoUsd');
      expect(final).toMatchObject({
        members: ['alice', 'bob', 'carol'],
        disabledProviders: ['groq'],
      });
    });
  });
});
