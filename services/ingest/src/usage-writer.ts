import {
  BatchWriter,
  firstPerKey,
  queryWithList,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { USAGE_COLUMNS, USAGE_TABLE, type UsageRow } from '@nanobill/tables';
import type { IngestMetrics } from './metrics.js';

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
      const started = performance.now();
      const stored = await storedRequestIds(clickhouse, unique);
      metrics.duplicateCheckSeconds.observe((performance.now() - started) / 1000);
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

/**
 * The request ids of `rows` already stored in the same hour, in one query whatever the batch size.
 * The ids travel inline (`queryWithList`); `IN (SELECT arrayJoin(…))` builds a hash set of them
 * (`IN {ids:Array(String)}` would scan the array for every row). The sort key's day prunes the
 * table to the batch's days; PREWHERE reads only `request_id` there and compares the hour for the
 * few rows whose id matches (ClickHouse's own choice read `event_time` for every row: 2.5 times
 * slower, measured with bench:inserts).
 */
export async function storedRequestIds(
  clickhouse: ClickHouseClient,
  rows: UsageRow[],
): Promise<Set<string>> {
  const result = await clickhouse.query({
    ...queryWithList(
      rows.map((r) => r.request_id),
      (ids) => `SELECT request_id FROM ${USAGE_TABLE}
                PREWHERE request_id IN (SELECT arrayJoin(${ids}))
                WHERE toDate(event_time) IN {days:Array(Date)}
                  AND toStartOfHour(event_time) IN {hours:Array(DateTime('UTC'))}`,
    ),
    query_params: {
      days: [...new Set(rows.map(dayOf))],
      hours: [...new Set(rows.map(hourOf))],
    },
    format: 'JSONCompactEachRow',
  });
  return new Set((await result.json<[string]>()).map(([id]) => id));
}

/** `2026-11-25T12:34:56.789Z` → `2026-11-25`: the sort key's day, as a Date parameter. */
function dayOf(row: UsageRow): string {
  return row.event_time.slice(0, 10);
}

/** `2026-11-25T12:34:56.789Z` → `2026-11-25 12:00:00`: the sort key's hour, as a DateTime parameter. */
function hourOf(row: UsageRow): string {
  return `${row.event_time.slice(0, 10)} ${row.event_time.slice(11, 13)}:00:00`;
}
