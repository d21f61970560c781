import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@nanobill/config';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { DLQ_HEADERS, ensureTopics } from '@nanobill/kafka';
import {
  produce,
  quietLogger,
  readTopic,
  tempDir,
  testBrokers,
  testKafka,
  uniqueName,
} from '@nanobill/testkit';
import { startPipeline, type Pipeline, type ServiceName } from '../src/index.js';

// startPipeline's overrides: a pipeline of its own on the shared broker creates the topics it was
// given, consumes them with the groups it was given, and dead-letters to the DLQs it was given.
// Real broker, embedded ClickHouse.

const dataDir = tempDir('nanobill-pipeline-overrides-');
let pipeline: Pipeline | undefined;
const config = () =>
  loadConfig({
    KAFKA_BROKERS: testBrokers().join(','),
    NANOBILL_DATA_DIR: dataDir,
    NANOBILL_OPS_PORT: '0',
  });
afterAll(async () => {
  await pipeline?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startPipeline overrides', () => {
  it('uses the topics and groups it is given', async () => {
    const topics = {
      requests: uniqueName('overrides-requests'),
      requestsDlq: uniqueName('overrides-requests-dlq'),
      accounts: uniqueName('overrides-accounts'),
      accountsDlq: uniqueName('overrides-accounts-dlq'),
    };
    const groups = {
      ingest: uniqueName('overrides-ingest'),
      accounts: uniqueName('overrides-acc'),
    };
    pipeline = await startPipeline({
      config: config(),
      logger: quietLogger(),
      only: ['ingest', 'accounts'],
      overrides: { topics, groups },
    });
    const kafka = testKafka();
    // Not JSON: each service dead-letters it, to its own DLQ, naming the topic it came from.
    await produce(kafka, topics.requests, [{ key: 'r', value: 'not json' }]);
    await produce(kafka, topics.accounts, [{ key: 'a', value: 'not json' }]);
    const [request] = await readTopic(kafka, topics.requestsDlq, 1);
    const [account] = await readTopic(kafka, topics.accountsDlq, 1);
    expect(request!.headers?.[DLQ_HEADERS.sourceTopic]?.toString()).toBe(topics.requests);
    expect(account!.headers?.[DLQ_HEADERS.sourceTopic]?.toString()).toBe(topics.accounts);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const { groups: listed } = await admin.listGroups();
      const ids = listed.map((g) => g.groupId);
      expect(ids).toEqual(expect.arrayContaining([groups.ingest, groups.accounts]));
    } finally {
      await admin.disconnect();
    }
  });

  it('merges service options, hooks every connection, awaits beforeStart in order', async () => {
    await pipeline?.stop();
    pipeline = undefined;
    const topics = {
      requests: uniqueName('merge-requests'),
      requestsDlq: uniqueName('merge-requests-dlq'),
      accounts: uniqueName('merge-accounts'),
      accountsDlq: uniqueName('merge-accounts-dlq'),
    };
    // The accounts service's own option (its DLQ) wins over the pipeline's topic.
    const elsewhere = uniqueName('merge-elsewhere-dlq');
    const kafka = testKafka();
    await ensureTopics(kafka, [{ topic: elsewhere, numPartitions: 1 }]);
    const started: ServiceName[] = [];
    const connections: ClickHouseClient[] = [];
    pipeline = await startPipeline({
      config: config(),
      logger: quietLogger(),
      only: ['accounts', 'ingest'],
      overrides: {
        topics,
        groups: { ingest: uniqueName('merge-ingest'), accounts: uniqueName('merge-acc') },
        services: { accounts: { topics: { accounts: topics.accounts, dlq: elsewhere } } },
        beforeStart: async (service) => {
          started.push(service);
        },
        clickhouse: (client) => {
          connections.push(client);
          return client;
        },
      },
    });
    expect(started).toEqual(['ingest', 'accounts']);
    expect(connections).toContain(pipeline.reader);
    expect(pipeline.pricing).toBeUndefined();

    await produce(kafka, topics.accounts, [{ key: 'a', value: 'not json' }]);
    const [account] = await readTopic(kafka, elsewhere, 1);
    expect(account!.headers?.[DLQ_HEADERS.sourceTopic]?.toString()).toBe(topics.accounts);
  });
});
