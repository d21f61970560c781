import { BatchWriter, firstPerKey, type ClickHouseClient } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { USAGE_COLUMNS, USAGE_TABLE, type UsageRow } from '@nanobill/tables';
import type { IngestMetrics } from './metrics.js';

/** Ids per look-up query: keeps each query's parameters well under a server's URI limit. */
const LOOKUP_CHUNK = 10_000;

/**
 * `billing.usage` rows, grouped into large inserts. Before each insert the request ids repeated
 * in the batch or already stored are dropped, so a redelivered event never becomes a second row
 * and `count()` is exact without relying on background merges. Rows ClickHouse refuses for their
 * values come back in the write's `refused` (the caller dead-letters them).
 */
export function createUsageWriter(options: {
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: IngestMetrics;
  maxRows: number;
  maxWaitMs: number;
}): BatchWriter<UsageRow> {
  const { clickhouse, logger, metrics } = options;
  return new BatchWriter<UsageRow>({
    clickhouse,
    table: USAGE_TABLE,
    columns: USAGE_COLUMNS,
    maxRows: options.maxRows,
    maxWaitMs: options.maxWaitMs,
    beforeInsert: async (rows) => {
      const unique = firstPerRequestId(rows);
      const stored = await storedRequestIds(clickhouse, unique);
      return unique.filter((r) => !stored.has(r.request_id));
    },
    onFlushed: ({ offered, inserted, refused, seconds }) => {
      metrics.rowsWritten.inc(inserted);
      metrics.duplicates.inc(offered - inserted - refused);
      metrics.flushRows.observe(inserted);
      metrics.flushSeconds.observe(seconds);
    },
    onError: (err, rows) => {
      metrics.flushFailures.inc();
      logger.error({ err, rows }, 'usage flush failed; its batches are retried');
    },
  });
}

/** Keeps the first row of each request id (a router may emit one request twice). */
export function firstPerRequestId(rows: readonly UsageRow[]): UsageRow[] {
  return firstPerKey(rows, (r) => r.request_id);
}

async function storedRequestIds(
  clickhouse: ClickHouseClient,
  rows: UsageRow[],
): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
    const chunk = rows.slice(i, i + LOOKUP_CHUNK);
    const result = await clickhouse.query({
      // `IN (SELECT arrayJoin(…))` builds a hash set; `IN {ids:Array(String)}` would scan the
      // array for every row (measured: 20 s instead of 0.2 s for 50,000 ids against 100,000 rows).
      query: `SELECT request_id FROM ${USAGE_TABLE}
              WHERE toStartOfHour(event_time) IN {hours:Array(DateTime('UTC'))}
                AND request_id IN (SELECT arrayJoin({ids:Array(String)}))`,
      query_params: { hours: [...new Set(chunk.map(hourOf))], ids: chunk.map((r) => r.request_id) },
      format: 'JSONCompactEachRow',
    });
    for (const [id] of await result.json<[string]>()) stored.add(id);
  }
  return stored;
}

/** `2026-11-25T12:34:56.789Z` → `2026-11-25 12:00:00`: the sort key's hour, as a DateTime parameter. */
function hourOf(row: UsageRow): string {
  return `${row.event_time.slice(0, 10)} ${row.event_time.slice(11, 13)}:00:00`;
}
