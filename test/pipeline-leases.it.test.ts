import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';
import { quietLogger, tempDir, testBrokers, testKafka, uniqueName } from '@nanobill/testkit';
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

/** The topics assigned to the group's members (an assignment names its topics). */
async function leaseMembers(groupId: string): Promise<string> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups.flatMap((g) => g.members.map((m) => m.memberAssignment.toString())).join(' ');
  } finally {
    await admin.disconnect();
  }
}

describe('startPipeline leases', () => {
  it('runs a singleton under its lease by default (on the lease topic and group it is given), directly with leases: false', async () => {
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
    // A lease topic and group of the test's own: other pipelines on the shared broker hold theirs.
    const leaseTopic = uniqueName('it-leases');
    const leaseGroup = uniqueName('it-statements-lease');
    for (const leases of [undefined, false]) {
      pipeline = await startPipeline({
        config,
        logger: quietLogger(),
        only: ['statements'],
        overrides: {
          leases,
          schedules: { statements: null },
          topics: { leases: leaseTopic },
          leaseGroups: { statements: leaseGroup },
        },
      });
      // The lease runner registers this gauge: present exactly when a lease was taken part in.
      expect(leaseHeld() !== undefined, `leases: ${leases}`).toBe(leases !== false);
      if (leases !== false) expect(await leaseMembers(leaseGroup)).toContain(leaseTopic);
      await pipeline.stop();
      pipeline = undefined;
    }
  });
});
