import {
  TOPICS,
  decodeAccountMessage,
  type AccountMessage,
  type AccountSnapshot,
  type OrgSettings,
} from '@nanobill/contract';
import { settingsRow, settingsWriter, snapshotRow, snapshotWriter } from '@nanobill/accounts';
import { describeRefusal, type BatchWriter, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  createProducer,
  sendToDlq,
  splitValid,
  storageRefusals,
  startBatchConsumer,
  type Kafka,
  type KafkaMessage,
  type PartitionBatch,
  type Rejection,
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
 * Keeps every message consumed from the compacted `billing.accounts.v1` in ClickHouse, since
 * compaction forgets the history the rules need: the hub's snapshots in
 * `billing.account_snapshots`, the org admins' settings in `billing.account_settings` (readers
 * merge them by owner). Invalid messages go to `billing.accounts.dlq.v1` with their reason, and
 * so do a snapshot that changes its account's kind (`kind_change`) and valid ones whose row
 * ClickHouse refuses (`storage_refused`); offsets are committed after all of them.
 */
export async function startAccounts(options: AccountsOptions): Promise<{ stop(): Promise<void> }> {
  const logger = options.logger.child({ service: 'accounts' });
  const topics = options.topics ?? { accounts: TOPICS.accounts, dlq: TOPICS.accountsDlq };
  const messages = new Counter({
    name: 'nanobill_accounts_snapshots_total',
    help: 'Messages of billing.accounts.v1 consumed, by result (stored: a hub snapshot, settings: an admin settings message, dlq)',
    labelNames: ['result'] as const,
    registers: [options.metrics],
  });
  const kindChanges = new Counter({
    name: 'nanobill_accounts_kind_changes_total',
    help: "Snapshots refused because they change their account's kind (user <-> org)",
    registers: [options.metrics],
  });
  const writerOptions = {
    clickhouse: options.clickhouse,
    maxRows: 5_000,
    maxWaitMs: 200,
    onError: (err: unknown, rows: number) => logger.error({ err, rows }, 'account write failed'),
  };
  const snapshots = snapshotWriter(writerOptions);
  const settings = settingsWriter(writerOptions);
  const producer = createProducer(options.kafka);
  await producer.connect();

  async function handle(batch: PartitionBatch): Promise<void> {
    const source = { topic: batch.topic, partition: batch.partition };
    const { valid, rejections } = splitValid(batch.messages, (bytes) =>
      decodeAccountMessage(bytes),
    );
    const { hub, admin, kindChanged } = await sortByOwner(valid);
    const [[hubRefused, adminRefused]] = await Promise.all([
      Promise.all([
        store(snapshots, 'billing.account_snapshots', hub, snapshotRow),
        store(settings, 'billing.account_settings', admin, settingsRow),
      ]),
      sendToDlq(producer, topics.dlq, source, [...rejections, ...kindChanged]),
    ]);
    const storageRefused = [...hubRefused, ...adminRefused];
    await sendToDlq(producer, topics.dlq, source, storageRefused);
    messages.inc({ result: 'stored' }, hub.length - hubRefused.length);
    messages.inc({ result: 'settings' }, admin.length - adminRefused.length);
    messages.inc({ result: 'dlq' }, rejections.length + kindChanged.length + storageRefused.length);
    kindChanges.inc(kindChanged.length);
    if (rejections.length > 0)
      logger.warn(
        { rejected: rejections.length, first: rejections[0]?.reason },
        'account messages sent to the DLQ',
      );
    if (kindChanged.length > 0)
      logger.error(
        { refused: kindChanged.length, first: kindChanged[0]?.reason },
        "snapshots that change their account's kind sent to the DLQ",
      );
    if (storageRefused.length > 0)
      logger.error(
        { refused: storageRefused.length, first: storageRefused[0]?.reason },
        'ClickHouse refused valid account messages: sent to the DLQ',
      );
  }

  /**
   * The hub's snapshots and the admins' settings, apart; a snapshot whose kind differs from its
   * account's is refused: one account id is never both a user and an org (docs/contract.md §5), and
   * a history mixing them would change every rule reading it. The account's kind is that of its
   * earliest stored snapshot, or of the first snapshot of it in this batch.
   */
  async function sortByOwner(valid: Array<{ value: AccountMessage; message: KafkaMessage }>) {
    const hub: Array<{ value: AccountSnapshot; message: KafkaMessage }> = [];
    const admin: Array<{ value: OrgSettings; message: KafkaMessage }> = [];
    const kindChanged: Rejection[] = [];
    const incoming = valid.flatMap(({ value }) =>
      value.type === 'snapshot' ? [value.snapshot.accountId] : [],
    );
    const kinds = await storedKinds(options.clickhouse, incoming);
    for (const { value, message } of valid) {
      if (value.type === 'settings') {
        admin.push({ value: value.settings, message });
        continue;
      }
      const { accountId, kind, effectiveAt } = value.snapshot;
      const known = kinds.get(accountId);
      if (known === undefined || known === kind) {
        kinds.set(accountId, kind);
        hub.push({ value: value.snapshot, message });
      } else {
        kindChanged.push({
          message,
          code: 'kind_change',
          reason: `kind: '${accountId}' is ${known === 'org' ? 'an org' : 'a user'}; a ${kind} snapshot (effective ${effectiveAt}) would change its kind, which an account id never does`,
        });
      }
    }
    return { hub, admin, kindChanged };
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
      await Promise.all([snapshots.close(), settings.close()]);
      await producer.disconnect();
    },
  };
}

/**
 * Writes the rows of `valid` messages; the rejections (`storage_refused`, with ClickHouse's
 * reason) of those whose row was refused.
 */
async function store<T, Row>(
  writer: BatchWriter<Row>,
  table: string,
  valid: Array<{ value: T; message: KafkaMessage }>,
  toRow: (value: T) => Row,
): Promise<Rejection[]> {
  const rows = valid.map(({ value }) => toRow(value));
  const written = await writer.write(rows);
  return storageRefusals(table, valid, (i) => {
    const refusal = written.refused.get(rows[i]!);
    return refusal && describeRefusal(refusal);
  });
}

/** Each account's kind: that of its earliest stored snapshot. */
async function storedKinds(
  clickhouse: ClickHouseClient,
  accountIds: string[],
): Promise<Map<string, string>> {
  if (accountIds.length === 0) return new Map();
  const result = await clickhouse.query({
    query: `SELECT account_id, argMin(kind, effective_at) AS kind
            FROM billing.account_snapshots
            WHERE account_id IN {ids:Array(String)}
            GROUP BY account_id`,
    query_params: { ids: [...new Set(accountIds)] },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ account_id: string; kind: string }>();
  return new Map(rows.map((r) => [r.account_id, r.kind]));
}
