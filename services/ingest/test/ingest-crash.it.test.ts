import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEventGenerator } from '@nanobill/router-simulator';
import { openClickHouse } from '@nanobill/clickhouse';
import {
  produce,
  queryValue,
  spawnTs,
  tempDir,
  testKafka,
  testTopics,
  uniqueName,
} from '@nanobill/testkit';

const CHILD = fileURLToPath(new URL('./fixtures/ingest-child.ts', import.meta.url));

const runChild = (env: Record<string, string>) => spawnTs(CHILD, { ...process.env, ...env }).exited;

describe('ingest killed after its insert and before its commit', () => {
  it('still stores exactly one row per requestId once restarted', async () => {
    const kafka = testKafka();
    const topics = await testTopics(kafka);
    const group = uniqueName('ingest-crash');
    const generator = createEventGenerator({
      seed: 11,
      requestIdPrefix: uniqueName('crash') + '-',
      startTime: new Date(Date.now() - 60_000), // inside the event window
    });
    const events = Array.from({ length: 5_000 }, () => generator.next());
    await produce(
      kafka,
      topics.requests,
      events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    );

    const env = {
      DATA_DIR: tempDir(),
      TOPIC_REQUESTS: topics.requests,
      TOPIC_DLQ: topics.dlq,
      GROUP: group,
      EXPECTED_ROWS: String(events.length),
    };
    const crashed = await runChild({ ...env, CRASH_AFTER_INSERT: '1' });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');

    // The kill came before any commit: the whole topic will be delivered again.
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topics.requests] });
    await admin.disconnect();
    expect(committed!.partitions.every((p) => p.offset === '-1')).toBe(true);

    const restarted = await runChild(env);
    expect(restarted.code, restarted.stderr).toBe(0);
    const report = JSON.parse(restarted.stdout.trim().split('\n').at(-1)!) as {
      rows: number;
      duplicates: number;
    };
    expect(report.duplicates).toBeGreaterThan(0); // the first insert's rows came back and were skipped

    const clickhouse = openClickHouse({ dataDir: env.DATA_DIR });
    try {
      expect(Number(await queryValue(clickhouse, 'SELECT count() FROM billing.usage'))).toBe(5_000);
      expect(
        Number(await queryValue(clickhouse, 'SELECT uniqExact(request_id) FROM billing.usage')),
      ).toBe(5_000);
    } finally {
      await clickhouse.close();
    }
  });
});
