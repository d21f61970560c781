import { TOPICS, decodeAccountSnapshot } from '@nanobill/contract';
import { snapshotRow, snapshotWriter } from '@nanobill/accounts';
import { describeRefusal, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  createProducer,
  sendToDlq,
  splitValid,
  storageRefusals,
  startBatchConsumer,
  type Kafka,
  type PartitionBatch,
  type Supervision,
} from '@nanobill/kafka';
import { Counter, type Logger, type Registry } from '@nanobill/observability';

export const ACCOUNTS_GROUP_ID = 'nanobill-accounts';

export interface AccountsOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  topics?: { accounts: string; dlq: string };
  groupId?: string;
  sessionTimeoutMs?: number;
  /** Where a consumer being restarted is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}

/**
 * Keeps every account snapshot consumed from the compacted `billing.accounts.v1` in
 * `billing.account_snapshots`, since compaction forgets the history the rules need. Invalid
 * snapshots go to `billing.accounts.dlq.v1` with their reason, and so do valid ones whose row
 * ClickHouse refuses (`storage_refused`); offsets are committed after all of them.
 */
export async function startAccounts(options: AccountsOptions): Promise<{ stop(): Promise<void> }> {
  const logger = options.logger.child({ service: 'accounts' });
  const topics = options.topics ?? { accounts: TOPICS.accounts, dlq: TOPICS.accountsDlq };
  const snapshots = new Counter({
    name: 'nanobill_accounts_snapshots_total',
    help: 'Account snapshots consumed, by result (stored, dlq)',
    labelNames: ['result'] as const,
    registers: [options.metrics],
  });
  const writer = snapshotWriter({
    clickhouse: options.clickhouse,
    maxRows: 5_000,
    maxWaitMs: 200,
    onError: (err, rows) => logger.error({ err, rows }, 'snapshot write failed'),
  });
  const producer = createProducer(options.kafka);
  await producer.connect();

  async function handle(batch: PartitionBatch): Promise<void> {
    const source = { topic: batch.topic, partition: batch.partition };
    const { valid, rejections } = splitValid(batch.messages, (bytes) =>
      decodeAccountSnapshot(bytes),
    );
    const rows = valid.map(({ value }) => snapshotRow(value));
    const [written] = await Promise.all([
      writer.write(rows),
      sendToDlq(producer, topics.dlq, source, rejections),
    ]);
    const refused = storageRefusals('billing.account_snapshots', valid, (i) => {
      const refusal = written.refused.get(rows[i]!);
      return refusal && describeRefusal(refusal);
    });
    await sendToDlq(producer, topics.dlq, source, refused);
    snapshots.inc({ result: 'stored' }, rows.length - refused.length);
    snapshots.inc({ result: 'dlq' }, rejections.length + refused.length);
    if (rejections.length > 0)
      logger.warn(
        { rejected: rejections.length, first: rejections[0]?.reason },
        'snapshots sent to the DLQ',
      );
    if (refused.length > 0)
      logger.error(
        { refused: refused.length, first: refused[0]?.reason },
        'ClickHouse refused valid snapshots: sent to the DLQ',
      );
  }

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: options.groupId ?? ACCOUNTS_GROUP_ID,
    topic: topics.accounts,
    logger,
    handle,
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: { metrics: options.metrics, ...options.supervision },
  });
  return {
    async stop() {
      await consumer.stop();
      await writer.close();
      await producer.disconnect();
    },
  };
}
