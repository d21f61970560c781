import type { ClickHouseClient } from '@nanobill/clickhouse';

/** Where a process kills itself: just before an insert into `table` is sent, or just after ClickHouse acknowledged it. */
export interface CrashPoint {
  when: 'before' | 'after';
  table: string;
}

/**
 * Makes the process SIGKILL itself at its first insert into `point.table` through `clickhouse`:
 * the worst moments of a service for a restart test, e.g. after the rows are durable and before
 * the Kafka offsets are committed (`after`), or after a webhook was delivered and before the
 * attempt is recorded (`before`). Other tables' inserts go through untouched.
 */
export function crashOnInsert(clickhouse: ClickHouseClient, point: CrashPoint): void {
  const insert = clickhouse.insert.bind(clickhouse);
  clickhouse.insert = (async (params: Parameters<typeof insert>[0]) => {
    if (params.table !== point.table) return insert(params);
    if (point.when === 'before') process.kill(process.pid, 'SIGKILL');
    const result = await insert(params);
    process.kill(process.pid, 'SIGKILL');
    return result;
  }) as typeof clickhouse.insert;
}

/** A crash point written `before:<table>` or `after:<table>` (a child's CRASH_ON_INSERT). */
export function parseCrashPoint(text: string): CrashPoint {
  const [when, table] = text.split(':');
  if ((when !== 'before' && when !== 'after') || !table) {
    throw new Error(
      `a crash point is before:<table> or after:<table>, not ${JSON.stringify(text)}`,
    );
  }
  return { when, table };
}
