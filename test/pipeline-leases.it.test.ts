import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';
import { quietLogger, tempDir, testBrokers } from '@nanobill/testkit';
import { ClickHouseServer } from './fixtures/chdb-server.js';

// startPipeline's `leases` override on a ClickHouse server: by default a singleton (here the
// statements service) runs under its Kafka-group lease, as `nanobill run --only` runs it;
// `leases: false`, for tests that kill and restart each service at will, starts it directly.
// Real broker, the chdb server.

const dataDir = tempDir('nanobill-pipeline-leases-');
const server = new ClickHouseServer(dataDir);
let pipeline: Pipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await server.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startPipeline leases', () => {
  it('runs a singleton under its lease by default, directly with leases: false', async () => {
    const url = await server.start(0);
    const admin = openClickHouse({ url, dataDir });
    await migrate(admin);
    await admin.close();
    const config = loadConfig({
      KAFKA_BROKERS: testBrokers().join(','),
      CLICKHOUSE_URL: url,
      NANOBILL_DATA_DIR: dataDir,
      NANOBILL_OPS_PORT: '0',
    });
    const leaseHeld = () => pipeline!.registry.getSingleMetric('nanobill_lease_held');
    for (const leases of [undefined, false]) {
      pipeline = await startPipeline({
        config,
        logger: quietLogger(),
        only: ['statements'],
        overrides: { leases, schedules: { statements: null } },
      });
      // The lease runner registers this gauge: present exactly when a lease was taken part in.
      expect(leaseHeld() !== undefined, `leases: ${leases}`).toBe(leases !== false);
      await pipeline.stop();
      pipeline = undefined;
    }
  });
});
