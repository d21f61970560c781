import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Kafka } from '@nanobill/kafka';
import { createMetricsRegistry, type Registry } from '@nanobill/observability';
import {
  quietLogger,
  testClickHouse,
  testKafka,
  testTopics,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startIngest, type IngestService } from '@nanobill/ingest';
import {
  DAY_MS,
  dlqByKey,
  endOffset,
  eventAt,
  produceRaw,
  readAll,
  storedIds,
  waitCommittedPast,
} from './ingest-support.js';

// Rows that pass validation but that ClickHouse refuses, made real by changing this test's own
// tables (a CHECK constraint, a parts limit): the engine's refusal, not a simulated one.
describe('ingest when ClickHouse refuses rows of a grouped insert', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  const services: IngestService[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    ({ client: clickhouse } = await testClickHouse());
  });

  afterAll(async () => {
    for (const service of services) await service.stop();
    await clickhouse?.close();
  });

  async function start(options: { eventWindow?: { maxAgeMs: number; maxAheadMs: number } } = {}) {
    const topics = await testTopics(kafka);
    const groupId = uniqueName('ingest-refused');
    const metrics = createMetricsRegistry();
    services.push(
      await startIngest({
        kafka,
        clickhouse,
        logger: quietLogger(),
        metrics,
        topics,
        groupId,
        maxRows: 5_000,
        maxWaitMs: 300,
        ...options,
      }),
    );
    return { topics, groupId, metrics };
  }

  const counter = async (metrics: Registry, name: string, labels: Record<string, string> = {}) => {
    const values = (await metrics.getSingleMetric(name)?.get())?.values ?? [];
    const match = values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return match.reduce((sum, v) => sum + v.value, 0);
  };

  it('isolates the row a CHECK constraint refuses: its neighbours are stored, it is DLQd with the reason, the partition advances', async () => {
    await clickhouse.command({
      query: `ALTER TABLE billing.usage ADD CONSTRAINT hostile_refuse CHECK model != 'refused/by-check'`,
    });
    const { topics, groupId } = await start();
    const t = Date.now();
    const before = Array.from({ length: 30 }, () => eventAt(t));
    const guilty = eventAt(t, { model: 'refused/by-check' });
    const after = Array.from({ length: 30 }, () => eventAt(t));
    const marker = eventAt(t);
    const all = [...before, guilty, ...after, marker];
    const first = await endOffset(kafka, topics.requests);
    await produceRaw(
      kafka,
      topics.requests,
      all.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    );
    await waitCommittedPast(kafka, groupId, topics.requests, first + BigInt(all.length - 1));

    const stored = await storedIds(
      clickhouse,
      all.map((e) => e.requestId),
    );
    for (const e of [...before, ...after, marker]) expect(stored.has(e.requestId)).toBe(true);
    expect(stored.has(guilty.requestId)).toBe(false);
    const dlq = await readAll(kafka, topics.dlq);
    expect(dlq.map((m) => m.key!.toString())).toEqual([guilty.requestId]);
    expect(dlq[0]!.value!.toString()).toBe(JSON.stringify(guilty));
    const { code, reason } = dlqByKey(dlq).get(guilty.requestId)!;
    expect(code).toBe('storage_refused');
    expect(reason).toContain('469');
    expect(reason).toContain('VIOLATED_CONSTRAINT');
    expect(reason).toContain('hostile_refuse');
  });

  it('splits an insert that spans more than 100 months (too many partitions) and stores every row', async () => {
    // A window wide enough to admit them all: only the insert's partition limit is in the way.
    const { topics, groupId } = await start({
      eventWindow: { maxAgeMs: 20 * 365 * DAY_MS, maxAheadMs: 5 * 60_000 },
    });
    const t = Date.now();
    const events = Array.from({ length: 150 }, (_, i) => eventAt(t - i * 31 * DAY_MS));
    const first = await endOffset(kafka, topics.requests);
    await produceRaw(
      kafka,
      topics.requests,
      events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    );
    await waitCommittedPast(kafka, groupId, topics.requests, first + BigInt(events.length - 1));
    const stored = await storedIds(
      clickhouse,
      events.map((e) => e.requestId),
    );
    expect(stored.size).toBe(events.length);
    expect(await readAll(kafka, topics.dlq)).toHaveLength(0);
  });

  it('retries a single row that fails for a reason that is not its own (too many parts), never dead-letters it', async () => {
    const { topics, groupId, metrics } = await start();
    // Two parts in this month's partition, merges stopped, and a limit of one part: every insert
    // into the partition is refused with TOO_MANY_PARTS (code 252, like "too many partitions").
    await clickhouse.command({ query: 'SYSTEM STOP MERGES billing.usage' });
    for (const e of [eventAt(Date.now()), eventAt(Date.now())]) {
      await clickhouse.insert({
        table: 'billing.usage',
        columns: ['request_id', 'event_time', 'user_id', 'provider', 'model', 'task'],
        values: [[e.requestId, e.timestamp, e.userId, e.provider, e.model, e.task]],
        format: 'JSONCompactEachRow',
      });
    }
    await clickhouse.command({
      query: 'ALTER TABLE billing.usage MODIFY SETTING parts_to_throw_insert = 1',
    });
    const lonely = eventAt(Date.now());
    const first = await endOffset(kafka, topics.requests);
    await produceRaw(kafka, topics.requests, [
      { key: lonely.requestId, value: JSON.stringify(lonely) },
    ]);
    await waitFor('two failed attempts', async () =>
      (await counter(metrics, 'nanobill_ingest_flush_failures_total')) >= 2 ? true : undefined,
    );
    expect((await storedIds(clickhouse, [lonely.requestId])).size).toBe(0);

    await clickhouse.command({
      query: 'ALTER TABLE billing.usage MODIFY SETTING parts_to_throw_insert = 3000',
    });
    await clickhouse.command({ query: 'SYSTEM START MERGES billing.usage' });
    await waitCommittedPast(kafka, groupId, topics.requests, first);
    expect((await storedIds(clickhouse, [lonely.requestId])).size).toBe(1);
    expect(await readAll(kafka, topics.dlq)).toHaveLength(0);
    expect(await counter(metrics, 'nanobill_ingest_dlq_total')).toBe(0);
  });
});
