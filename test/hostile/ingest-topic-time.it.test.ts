import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '@nanobill/contract';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { ensureTopics, topicSpecs, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger, testClickHouse, testKafka, uniqueName } from '@nanobill/testkit';
import { startIngest, type IngestService } from '@nanobill/ingest';
import {
  dlqByKey,
  eventAt,
  produceRaw,
  readAll,
  storedIds,
  waitCommittedPast,
} from './ingest-support.js';

// The event window is measured from the message's Kafka timestamp. On the topic as nanobill
// creates it, that is the broker's clock when it appended the message: a router that forges the
// producer timestamp along with the event's cannot slip an old event in.
describe('the event window on the requests topic as nanobill creates it', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let ingest: IngestService | undefined;
  const topics = { requests: uniqueName('it-requests'), dlq: uniqueName('it-dlq') };
  const groupId = uniqueName('ingest-topic-time');

  beforeAll(async () => {
    kafka = testKafka();
    const spec = topicSpecs(1).find((s) => s.topic === TOPICS.requests)!;
    expect(spec.configs).toMatchObject({ 'message.timestamp.type': 'LogAppendTime' });
    await ensureTopics(kafka, [
      { ...spec, topic: topics.requests },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
    ({ client: clickhouse } = await testClickHouse());
    ingest = await startIngest({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      topics,
      groupId,
      maxWaitMs: 200,
    });
  });

  afterAll(async () => {
    await ingest?.stop();
    await clickhouse?.close();
  });

  it('ignores a forged producer timestamp: an event of 2020 stamped 2020 is out of the window', async () => {
    const forgedAt = Date.parse('2020-06-01T00:00:00.000Z');
    const old = eventAt(forgedAt);
    const fresh = eventAt(Date.now());
    const before = Date.now();
    await produceRaw(kafka, topics.requests, [
      { key: old.requestId, value: JSON.stringify(old), timestamp: forgedAt },
      { key: fresh.requestId, value: JSON.stringify(fresh), timestamp: forgedAt },
    ]);
    await waitCommittedPast(kafka, groupId, topics.requests, 1n);
    const [appended] = (await readAll(kafka, topics.requests)).filter(
      (m) => m.key!.toString() === old.requestId,
    );
    expect(Number(appended!.timestamp)).toBeGreaterThanOrEqual(before - 60_000);
    const dlq = dlqByKey(await readAll(kafka, topics.dlq));
    expect(dlq.get(old.requestId)?.code).toBe('out_of_window');
    expect((await storedIds(clickhouse, [fresh.requestId])).has(fresh.requestId)).toBe(true);
  });
});
