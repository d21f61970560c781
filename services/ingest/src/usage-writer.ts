import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { USAGE_COLUMNS, type UsageRow } from './usage-row.js';
import type { IngestMetrics } from './metrics.js';

export interface UsageWriterOptions {
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: IngestMetrics;
  /** A flush starts as soon as this many rows wait… */
  maxRows: number;
  /** …or this long after the first of them arrived. */
  maxWaitMs: number;
}

interface Pending {
  rows: UsageRow[];
  done: Promise<void>;
  settle(error?: unknown): void;
}

/** Ids per look-up query: keeps each query's parameters well under a server's URI limit. */
const LOOKUP_CHUNK = 10_000;

/**
 * Group commit into `billing.usage`: the batches of every partition wait together and go out as
 * one insert of thousands of rows (ClickHouse's guidance: large inserts, about one per second).
 * Flushes run one at a time, and each first drops the request ids that are already stored, so a
 * redelivered event never becomes a second row, without relying on background merges.
 */
export class UsageWriter {
  #pending: Pending | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: UsageWriterOptions) {}

  /** Resolves once the rows are stored (or were already). */
  write(rows: UsageRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const pending = (this.#pending ??= this.#open());
    pending.rows.push(...rows);
    if (pending.rows.length >= this.options.maxRows) this.#flush();
    return pending.done;
  }

  /** Flushes what waits and resolves when every flush so far has finished. */
  async close(): Promise<void> {
    this.#flush();
    await this.#flushing;
  }

  #open(): Pending {
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.#timer = setTimeout(() => this.#flush(), this.options.maxWaitMs);
    return { rows: [], done, settle };
  }

  #flush(): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    clearTimeout(this.#timer);
    this.#flushing = this.#flushing.then(async () => {
      try {
        await this.#store(pending.rows);
        pending.settle();
      } catch (error) {
        this.options.logger.error({ err: error, rows: pending.rows.length }, 'usage flush failed');
        pending.settle(error);
      }
    });
  }

  async #store(rows: UsageRow[]): Promise<void> {
    const { clickhouse, metrics } = this.options;
    const stopTimer = metrics.flushSeconds.startTimer();
    const unique = firstPerRequestId(rows);
    const stored = await this.#alreadyStored(unique);
    const fresh = unique.filter((r) => !stored.has(r.request_id));
    if (fresh.length > 0) {
      // Positional rows parse about a third faster than keyed ones.
      await clickhouse.insert({
        table: 'billing.usage',
        columns: [...USAGE_COLUMNS],
        values: fresh.map((row) => USAGE_COLUMNS.map((column) => row[column])),
        format: 'JSONCompactEachRow',
      });
    }
    metrics.rowsWritten.inc(fresh.length);
    metrics.duplicates.inc(rows.length - fresh.length);
    metrics.flushRows.observe(fresh.length);
    stopTimer();
  }

  async #alreadyStored(rows: UsageRow[]): Promise<Set<string>> {
    const stored = new Set<string>();
    for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
      const chunk = rows.slice(i, i + LOOKUP_CHUNK);
      const result = await this.options.clickhouse.query({
        // `IN (SELECT arrayJoin(…))` builds a hash set; `IN {ids:Array(String)}` would scan the
        // array for every row (measured: 20 s instead of 0.2 s for 50,000 ids against 100,000 rows).
        query: `SELECT request_id FROM billing.usage
                WHERE toStartOfHour(event_time) IN {hours:Array(DateTime('UTC'))}
                  AND request_id IN (SELECT arrayJoin({ids:Array(String)}))`,
        query_params: {
          hours: [...new Set(chunk.map(hourOf))],
          ids: chunk.map((r) => r.request_id),
        },
        format: 'JSONCompactEachRow',
      });
      for (const [id] of await result.json<[string]>()) stored.add(id);
    }
    return stored;
  }
}

/** Keeps the first row of each request id (a router may emit one request twice). */
export function firstPerRequestId(rows: UsageRow[]): UsageRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.request_id) && seen.add(r.request_id));
}

/** `2026-11-25T12:34:56.789Z` → `2026-11-25 12:00:00`: the sort key's hour, as a DateTime parameter. */
function hourOf(row: UsageRow): string {
  return `${row.event_time.slice(0, 10)} ${row.event_time.slice(11, 13)}:00:00`;
}
