// The ceilings beside bench:ingest's figure (docs/benchmarks.md): how fast the same box reads the
// same topic and writes the same rows when nanobill does nothing else, so that ingest's rate is
// shown as a share of the limit, not only against a target.
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Kafka } from '@nanobill/kafka';
import { USAGE_COLUMNS, USAGE_TABLE } from '@nanobill/tables';
import { uniqueName } from '@nanobill/testkit';

/**
 * (a) A bare consumer of `topic` (a group of its own, from the start) that only JSON-parses each
 * message, until `events` were read: messages per second.
 */
export async function bareConsumeRate(kafka: Kafka, topic: string, events: number) {
  const consumer = kafka.consumer({ groupId: uniqueName('bench-bare-consumer') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  let parsed = 0;
  let started = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        started ||= performance.now();
        for (const message of batch.messages) {
          if (message.value !== null && JSON.parse(message.value.toString()) !== null) parsed++;
          read++;
        }
        if (read >= events) resolve();
      },
    });
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  return { perSecond: Math.round(read / seconds), seconds: round(seconds), parsed };
}

/**
 * (b) The rows ingest stored (`request_id` starting with `prefix`) inserted again, `batchRows` at
 * a time, in ingest's format (JSONCompactEachRow) on the same client, into a copy of the table
 * (no duplicate check, no Kafka): rows per second, reading them back excluded.
 */
export async function reinsertRate(
  clickhouse: ClickHouseClient,
  prefix: string,
  batchRows: number,
) {
  const copy = `billing.${uniqueName('bench_usage_copy').replaceAll('-', '_')}`;
  await clickhouse.command({ query: `CREATE TABLE ${copy} AS ${USAGE_TABLE}` });
  const result = await clickhouse.query({
    query: `SELECT ${USAGE_COLUMNS.join(', ')} FROM ${USAGE_TABLE}
            WHERE startsWith(request_id, {prefix:String})`,
    query_params: { prefix },
    format: 'JSONCompactEachRow',
  });
  // Streamed, one batch in memory at a time: the ceiling must not cost the process's RSS figure.
  let insertMs = 0;
  let rows = 0;
  let batch: unknown[][] = [];
  const insert = async () => {
    const started = performance.now();
    await clickhouse.insert({
      table: copy,
      columns: [...USAGE_COLUMNS] as unknown as [string, ...string[]],
      values: batch,
      format: 'JSONCompactEachRow',
    });
    insertMs += performance.now() - started;
    rows += batch.length;
    batch = [];
  };
  for await (const chunk of result.stream<unknown[]>()) {
    for (const row of chunk) {
      batch.push(row.json<unknown[]>());
      if (batch.length >= batchRows) await insert();
    }
  }
  if (batch.length > 0) await insert();
  await clickhouse.command({ query: `DROP TABLE ${copy}` });
  const seconds = insertMs / 1000;
  return {
    perSecond: Math.round(rows / seconds),
    seconds: round(seconds),
    rows,
  };
}

const round = (n: number) => Number(n.toFixed(2));
