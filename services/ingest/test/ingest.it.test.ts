import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { createEventGenerator } from '@nanobill/router-simulator';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import {
  produce,
  queryValue,
  quietLogger,
  readTopic,
  testClickHouse,
  testKafka,
  testTopics,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import kafkajs from 'kafkajs';
import { INGEST_CONSUMERS, startIngest, type IngestService } from '../src/index.js';
import { MALFORMED } from './malformed.js';

// Real broker, real (embedded) ClickHouse.
describe('ingest: inference.requests.v1 → billing.usage and the DLQ', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let topics: { requests: string; dlq: string };
  let ingest: IngestService | undefined;
  let groupId: string;
  const registry = createMetricsRegistry();
  const duplicatesSeen = async () =>
    (await registry.getSingleMetric('nanobill_ingest_duplicates_total')!.get()).values[0]?.value ??
    0;
  // Stamped a minute ago (10 s of traffic): inside the event window.
  const generator = createEventGenerator({
    seed: 7,
    requestIdPrefix: uniqueName('req') + '-',
    startTime: new Date(Date.now() - 60_000),
  });
  const valid = Array.from({ length: 9_900 }, () => generator.next());
  const countRows = () =>
    queryValue<string>(clickhouse, 'SELECT count() FROM billing.usage').then(Number);

  beforeAll(async () => {
    kafka = testKafka();
    topics = await testTopics(kafka);
    ({ client: clickhouse } = await testClickHouse());
    ingest = await startIngest({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: registry,
      topics,
      groupId: (groupId = uniqueName('ingest')),
      maxRows: 5_000,
      maxWaitMs: 500,
    });
  });

  afterAll(async () => {
    await ingest?.stop();
    await clickhouse?.close();
  });

  it('stores the 9,900 valid events and sends the 100 malformed ones to the DLQ with a reason', async () => {
    const malformed = Array.from({ length: 100 }, (_, i) => {
      const kind = MALFORMED[i % MALFORMED.length]!;
      const base = generator.next();
      return { kind, requestId: base.requestId, value: kind.build(base) };
    });
    const messages = [
      ...valid.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
      ...malformed.map((m) => ({ key: m.requestId, value: m.value })),
    ].sort(() => Math.random() - 0.5);
    await produce(kafka, topics.requests, messages);

    const dlq = await readTopic(kafka, topics.dlq, 100);
    await waitFor('9,900 usage rows', async () =>
      (await countRows()) >= 9_900 ? true : undefined,
    );

    expect(await countRows()).toBe(9_900);
    expect(dlq).toHaveLength(100);
    const byKey = new Map(malformed.map((m) => [m.requestId, m]));
    for (const message of dlq) {
      const sent = byKey.get(message.key!.toString())!;
      const header = (name: string) => message.headers?.[name]?.toString();
      expect(message.value?.equals(sent.value)).toBe(true);
      expect(header(DLQ_HEADERS.code)).toBe(sent.kind.code);
      for (const mention of sent.kind.reasonMentions)
        expect(header(DLQ_HEADERS.reason)).toContain(mention);
      expect(header(DLQ_HEADERS.sourceTopic)).toBe(topics.requests);
      expect(Number(header(DLQ_HEADERS.sourcePartition))).toBeGreaterThanOrEqual(0);
      expect(header(DLQ_HEADERS.sourceOffset)).toMatch(/^\d+$/);
    }
    const kinds = new Set(dlq.map((m) => m.headers?.[DLQ_HEADERS.code]?.toString()));
    expect(kinds).toEqual(
      new Set(['not_json', 'schema_violation', 'unknown_provider', 'oversized']),
    );
  });

  it(`runs ${INGEST_CONSUMERS} members of its group, each with partitions of its own`, async () => {
    expect(INGEST_CONSUMERS).toBeGreaterThan(1);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const assigned = await waitFor('a stable group of every member', async () => {
        const [group] = (await admin.describeGroups([groupId])).groups;
        if (group?.state !== 'Stable' || group.members.length !== INGEST_CONSUMERS) return;
        return group.members.map(
          (m) =>
            kafkajs.AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[
              topics.requests
            ] ?? [],
        );
      });
      for (const partitions of assigned) expect(partitions.length).toBeGreaterThan(0);
      expect(assigned.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await admin.disconnect();
    }
  });

  it('keeps every field of the event, unknown extra fields included', async () => {
    const event = { ...generator.next(), billTo: 'org-0001', routerRegion: 'eu-west' };
    await produce(kafka, topics.requests, [{ key: event.requestId, value: JSON.stringify(event) }]);
    const result = await waitFor('the row', async () => {
      const rs = await clickhouse.query({
        query: 'SELECT * FROM billing.usage WHERE request_id = {id:String}',
        query_params: { id: event.requestId },
        format: 'JSONEachRow',
      });
      return (await rs.json<Record<string, unknown>>())[0];
    });
    expect(result).toMatchObject({
      request_id: event.requestId,
      user_id: event.userId,
      bill_to: 'org-0001',
      provider: event.provider,
      model: event.model,
      task: event.task,
      billing_mode: event.billingMode,
      status: event.status,
      extra: JSON.stringify({ routerRegion: 'eu-west' }),
    });
    expect(new Date(`${result.event_time as string}Z`).toISOString()).toBe(event.timestamp);
  });

  it('never stores a request twice when the same events arrive again', async () => {
    const before = await countRows();
    const again = valid
      .slice(0, 3_000)
      .map((e) => ({ key: e.requestId, value: JSON.stringify(e) }));
    const marker = generator.next();
    await produce(kafka, topics.requests, [
      ...again,
      ...again.slice(0, 10),
      { key: marker.requestId, value: JSON.stringify(marker) },
    ]);
    await waitFor('the marker row', async () => ((await countRows()) > before ? true : undefined));
    await waitFor('3,010 duplicates skipped', async () =>
      (await duplicatesSeen()) >= 3_010 ? true : undefined,
    );
    expect(await countRows()).toBe(before + 1);
    const distinct = await queryValue<string>(
      clickhouse,
      'SELECT uniqExact(request_id) FROM billing.usage',
    );
    expect(Number(distinct)).toBe(before + 1);
  });
});
