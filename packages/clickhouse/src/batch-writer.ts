import type { ClickHouseClient } from '@clickhouse/client';
import { rowRefusal, type Refusal } from './refusal.js';

export interface BatchWriterOptions<Row> {
  clickhouse: ClickHouseClient;
  table: string;
  /** Insert order of the columns; rows go out positionally (about a third faster than keyed JSON). */
  columns: ReadonlyArray<keyof Row & string>;
  /** A flush starts as soon as this many rows wait… */
  maxRows: number;
  /** …or this long after the first of them arrived. */
  maxWaitMs: number;
  /**
   * Runs inside the flush, which is the only one in flight: returns the rows to insert, e.g.
   * without those already stored. This is where exactness under redelivery lives. It must be a
   * pure filter: when ClickHouse refuses rows it runs again on each part of the split insert.
   */
  beforeInsert?(rows: Row[]): Promise<Row[]>;
  /** After each insert ClickHouse acknowledged, with its rows. */
  onInserted?(rows: Row[]): void;
  onFlushed?(flush: { offered: number; inserted: number; refused: number; seconds: number }): void;
  onError?(error: unknown, rows: number): void;
}

/** What a flush did with rows other than storing them. */
export interface WriteResult<Row> {
  /**
   * Rows ClickHouse refused because of their values (`rowRefusal`), each with ClickHouse's
   * reason; every other row of the flush is stored. Shared by every writer of the flush: look
   * up your own rows.
   */
  refused: ReadonlyMap<Row, Refusal>;
}

interface Pending<Row> {
  rows: Row[];
  done: Promise<WriteResult<Row>>;
  settle(outcome: { ok: true; result: WriteResult<Row> } | { ok: false; error: unknown }): void;
}

/**
 * Group commit into one ClickHouse table: writers from any number of partitions wait together
 * and go out as one insert of thousands of rows (ClickHouse's guidance: large inserts, about one
 * per second). Flushes run one at a time, so `beforeInsert` sees every row stored before it.
 *
 * One bad row never holds the others back: when ClickHouse refuses an insert because of its rows
 * (a value it cannot parse, a constraint, more partitions than one insert may touch; see
 * `rowRefusal`), the insert is split in halves and each half is tried again, down to single rows.
 * A single row refused for its own values is reported in the flush's `refused`, the rest are
 * stored. Any other failure (server, network, memory, too many parts, …) fails the whole flush as
 * before, so that the caller retries it; a valid row is never set aside for ClickHouse's sake.
 * Each insert is atomic (one block: every flush is far below `max_insert_block_size`), and a
 * retried part goes through `beforeInsert` again, so nothing is stored twice.
 */
export class BatchWriter<Row> {
  #pending: Pending<Row> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: BatchWriterOptions<Row>) {}

  /** Resolves once the rows are stored (or were found already stored), or refused for their values. */
  write(rows: readonly Row[]): Promise<WriteResult<Row>> {
    if (rows.length === 0) return Promise.resolve({ refused: new Map() });
    const pending = (this.#pending ??= this.#open());
    for (const row of rows) pending.rows.push(row);
    if (pending.rows.length >= this.options.maxRows) this.#flush();
    return pending.done;
  }

  /** Flushes what waits and resolves when every flush so far has finished. */
  async close(): Promise<void> {
    this.#flush();
    await this.#flushing;
  }

  #open(): Pending<Row> {
    let settle!: Pending<Row>['settle'];
    const done = new Promise<WriteResult<Row>>((resolve, reject) => {
      settle = (outcome) => (outcome.ok ? resolve(outcome.result) : reject(outcome.error));
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
        pending.settle({ ok: true, result: await this.#store(pending.rows) });
      } catch (error) {
        this.options.onError?.(error, pending.rows.length);
        pending.settle({ ok: false, error });
      }
    });
  }

  async #store(rows: Row[]): Promise<WriteResult<Row>> {
    const started = performance.now();
    const refused = new Map<Row, Refusal>();
    const inserted = await this.#insertIsolating(rows, refused);
    this.options.onFlushed?.({
      offered: rows.length,
      inserted,
      refused: refused.size,
      seconds: (performance.now() - started) / 1000,
    });
    return { refused };
  }

  /** Inserts what `beforeInsert` keeps of `rows`; on a row-caused refusal, each half on its own. */
  async #insertIsolating(rows: Row[], refused: Map<Row, Refusal>): Promise<number> {
    const { beforeInsert } = this.options;
    const fresh = beforeInsert ? await beforeInsert(rows) : rows;
    if (fresh.length === 0) return 0;
    try {
      await this.#insert(fresh);
      return fresh.length;
    } catch (error) {
      const refusal = rowRefusal(error);
      if (refusal === undefined) throw error;
      if (fresh.length === 1) {
        refused.set(fresh[0]!, refusal);
        return 0;
      }
      const half = Math.ceil(fresh.length / 2);
      const first = await this.#insertIsolating(fresh.slice(0, half), refused);
      return first + (await this.#insertIsolating(fresh.slice(half), refused));
    }
  }

  async #insert(rows: Row[]): Promise<void> {
    const { clickhouse, table, columns, onInserted } = this.options;
    await clickhouse.insert({
      table,
      columns: [...columns] as unknown as [string, ...string[]],
      values: rows.map((row) => columns.map((column) => row[column])),
      format: 'JSONCompactEachRow',
    });
    onInserted?.(rows);
  }
}

/** Keeps the first row of each key: a batch may carry one event twice. */
export function firstPerKey<Row>(rows: readonly Row[], keyOf: (row: Row) => string): Row[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = keyOf(row);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
