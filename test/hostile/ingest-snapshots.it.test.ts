import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger, testClickHouse, testKafka, uniqueName } from '@nanobill/testkit';
import { startAccounts } from '@nanobill/accounts-service';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import {
  dlqByKey,
  endOffset,
  produceRaw,
  readAll,
  waitCommittedPast,
  type RawMessage,
} from './ingest-support.js';

// Hostile account snapshots against the real accounts service (real broker, real ClickHouse):
// every value that passes validation fits its column, a refused snapshot goes to
// billing.accounts.dlq.v1 with the reason, and nothing stops the partition.
describe('accounts under hostile snapshots', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let accounts: { stop(): Promise<void> } | undefined;
  const topics = { accounts: uniqueName('it-accounts'), dlq: uniqueName('it-accounts-dlq') };
  const groupId = uniqueName('accounts-hostile');
  const tag = uniqueName('acct');

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [
      { topic: topics.accounts, numPartitions: 2 },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
    ({ client: clickhouse } = await testClickHouse());
    accounts = await startAccounts({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      topics,
      groupId,
    });
  });

  afterAll(async () => {
    await accounts?.stop();
    await clickhouse?.close();
  });

  let n = 0;
  const org = (overrides: Record<string, unknown> = {}) => ({
    schemaVersion: 1,
    accountId: `${tag}-org-${n++}`,
    kind: 'org',
    plan: 'team',
    effectiveAt: new Date().toISOString(),
    seats: 3,
    members: ['alice', 'bob'],
    ...overrides,
  });
  const user = (overrides: Record<string, unknown> = {}) => ({
    schemaVersion: 1,
    accountId: `${tag}-user-${n++}`,
    kind: 'user',
    plan: 'pro',
    effectiveAt: new Date().toISOString(),
    ...overrides,
  });

  /** Sends the cases and a marker, waits for the commit past the marker; what was stored and DLQd. */
  async function run(cases: Record<string, Record<string, unknown> | RawMessage>, partition = 0) {
    const messages: RawMessage[] = Object.entries(cases).map(([name, c]) =>
      'value' in c && (typeof c.value === 'string' || Buffer.isBuffer(c.value))
        ? (c as RawMessage)
        : { key: `${tag}-${name}`, value: JSON.stringify(c) },
    );
    const marker = user();
    const markerOffset =
      (await endOffset(kafka, topics.accounts, partition)) + BigInt(messages.length);
    await produceRaw(
      kafka,
      topics.accounts,
      [...messages, { key: marker.accountId, value: JSON.stringify(marker) }],
      partition,
    );
    await waitCommittedPast(kafka, groupId, topics.accounts, markerOffset, partition);
    const rows = await clickhouse.query({
      query: 'SELECT account_id, seats, spending_limit_nano_usd FROM billing.account_snapshots',
      format: 'JSONEachRow',
    });
    const stored = new Map(
      (await rows.json<{ account_id: string; seats: number | null }>()).map((r) => [
        r.account_id,
        r,
      ]),
    );
    expect(stored.has(marker.accountId)).toBe(true);
    return { stored, dlq: dlqByKey(await readAll(kafka, topics.dlq)) };
  }

  const attacks = {
    nul: 'acme\u0000x',
    newline: 'acme\nx',
    rtlOverride: 'acme\u202Egpj.exe',
    emoji: 'acme😀',
    sqlQuote: "acme'; DROP TABLE billing.account_snapshots; --",
    dotDot: '../acme',
    space: 'acme corp',
    tooLong: 'a'.repeat(97),
    loneSurrogate: 'acme\ud800',
  };

  it('numbers that do not fit their column are refused, naming the field; the largest that fit are stored', async () => {
    const cases = {
      seats2pow40: org({ seats: 2 ** 40 }),
      seats2pow32: org({ seats: 2 ** 32 }),
      seatsZero: org({ seats: 0 }),
      seatsFraction: org({ seats: 2.5 }),
      seatsNegative: org({ seats: -3 }),
      limitPast2pow63: org({ spendingLimitNanoUsd: '9223372036854775808' }),
      limitUnsafeNumber: org({ spendingLimitNanoUsd: 2 ** 63 }),
      limitNegative: org({ spendingLimitNanoUsd: -1 }),
      limitFraction: org({ spendingLimitNanoUsd: 0.5 }),
    };
    const fits = org({ seats: 4_294_967_295, spendingLimitNanoUsd: '9223372036854775807' });
    const { stored, dlq } = await run({ ...cases, fits });
    for (const [name, snapshot] of Object.entries(cases)) {
      expect(dlq.get(`${tag}-${name}`)?.code, name).toBe('schema_violation');
      expect(stored.has(snapshot.accountId as string), name).toBe(false);
    }
    expect(dlq.get(`${tag}-seats2pow40`)?.reason).toContain('seats');
    expect(dlq.get(`${tag}-limitPast2pow63`)?.reason).toContain('spendingLimitNanoUsd');
    expect(stored.get(fits.accountId)).toMatchObject({
      seats: 4_294_967_295,
      spending_limit_nano_usd: '9223372036854775807',
    });
  });

  it('account ids and members outside the charset are refused, naming the field', async () => {
    const cases: Record<string, Record<string, unknown>> = {};
    for (const [name, value] of Object.entries(attacks)) {
      cases[`orgId-${name}`] = org({ accountId: value });
      cases[`userId-${name}`] = user({ accountId: value });
      cases[`member-${name}`] = org({ members: ['alice', value] });
    }
    const fine = org({
      accountId: `${tag}-${'x'.repeat(96 - tag.length - 1)}`,
      members: ['a.b-c_d'],
    });
    const { stored, dlq } = await run({ ...cases, fine }, 1);
    for (const [name, snapshot] of Object.entries(cases)) {
      const field = name.startsWith('member') ? 'members' : 'accountId';
      expect(dlq.get(`${tag}-${name}`)?.code, name).toBe('schema_violation');
      expect(dlq.get(`${tag}-${name}`)?.reason, name).toContain(field);
      if (!name.endsWith('loneSurrogate')) {
        expect(stored.has(snapshot.accountId as string), name).toBe(false);
      }
    }
    expect(stored.has(fine.accountId)).toBe(true);
  });

  it('dates out of the column and strings ClickHouse cannot store are refused', async () => {
    const cases = {
      year0000: user({ effectiveAt: '0000-01-01T00:00:00.000Z' }),
      year9999: user({ effectiveAt: '9999-12-31T23:59:59.999Z' }),
      webhookSurrogate: user({ alertWebhookUrl: 'https://hooks.example/\ud800' }),
      providerSurrogate: org({ disabledProviders: ['groq\ud800'] }),
    };
    // Unknown fields are stored as JSON text (the surrogate stays an escape): harmless.
    const extra = user({ note: 'x\udfff' });
    const { stored, dlq } = await run({ ...cases, extra });
    for (const [name, snapshot] of Object.entries(cases)) {
      expect(dlq.get(`${tag}-${name}`)?.code, name).toBe('schema_violation');
      expect(stored.has(snapshot.accountId as string), name).toBe(false);
    }
    expect(stored.has(extra.accountId)).toBe(true);
  });

  it('JSON nested 100,000 levels deep is refused; the facts readers keep reading', async () => {
    // Valid JSON, under 1 MiB, in an unknown field (kept as sent): a recursive reader
    // (the history's canonical form) would overflow its stack on it, at every refresh.
    const deep = user();
    const depth = 100_000;
    const text = `${JSON.stringify(deep).slice(0, -1)},"note":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const fine = user();
    const { stored, dlq } = await run({ deep: { key: `${tag}-deep`, value: text }, fine });
    expect(dlq.get(`${tag}-deep`)?.code).toBe('schema_violation');
    expect(dlq.get(`${tag}-deep`)?.reason).toContain('deeper than');
    expect(stored.has(deep.accountId)).toBe(false);
    expect(stored.has(fine.accountId)).toBe(true);

    // One such row stored anyway (before this limit existed) is skipped, not fatal to readers.
    await clickhouse.insert({
      table: 'billing.account_snapshots',
      columns: ['account_id', 'kind', 'plan', 'effective_at', 'snapshot'],
      values: [[deep.accountId, 'user', 'pro', deep.effectiveAt, text]],
      format: 'JSONCompactEachRow',
    });
    const skipped: string[] = [];
    const reader = new AccountFactsReader(clickhouse, new AccountHistory(), (r) => skipped.push(r));
    await reader.refresh();
    expect(reader.history.has(fine.accountId)).toBe(true);
    expect(reader.history.has(deep.accountId)).toBe(false);
    expect(skipped.length).toBeGreaterThanOrEqual(1);
  });

  it('a snapshot ClickHouse refuses goes to the DLQ with the reason; its neighbours are stored', async () => {
    await clickhouse.command({
      query: `ALTER TABLE billing.account_snapshots ADD CONSTRAINT hostile_refuse CHECK plan != 'enterprise' OR seats != 77`,
    });
    const neighbours = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`neighbour-${i}`, org()]),
    );
    const guilty = org({ plan: 'enterprise', seats: 77 });
    const { stored, dlq } = await run({ ...neighbours, guilty });
    for (const snapshot of Object.values(neighbours)) {
      expect(stored.has(snapshot.accountId)).toBe(true);
    }
    expect(stored.has(guilty.accountId)).toBe(false);
    expect(dlq.get(`${tag}-guilty`)?.code).toBe('storage_refused');
    expect(dlq.get(`${tag}-guilty`)?.reason).toContain('VIOLATED_CONSTRAINT');
  });
});
