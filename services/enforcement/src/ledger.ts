// The rows it follows are read through @nanobill/tables (the pricing tables' module).

/**
 * Follows a table by insertion time (`inserted_at`, set by ClickHouse), so that each call reads
 * only what was stored since the last one rather than the month. Rows of one insert become
 * visible together but an insert may take a while, so each read goes back `overlapMs` and drops
 * the rows it has already returned (by `key`).
 *
 * The first read starts at `fromMs` exactly: a start-up sum over the rows stored before `fromMs`
 * and this follower then count every row once, neither twice nor never (see `pricedSums`).
 */
export class InsertionFollower<Row extends { key: string; insertedAtMs: number }> {
  #watermark: number;
  readonly #returned = new Map<string, number>(); // key → inserted_at, within the overlap

  constructor(
    /** The rows of `month` or later stored at or after `sinceMs`. */
    private readonly read: (sinceMs: number, month: string) => Promise<Row[]>,
    fromMs: number,
    private readonly overlapMs = 60_000,
  ) {
    this.#watermark = fromMs + overlapMs;
  }

  /** Rows of `month` or later stored since the last call, each returned once. */
  async next(month: string): Promise<Row[]> {
    const rows: Row[] = [];
    for (const row of await this.read(this.#watermark - this.overlapMs, month)) {
      if (this.#returned.has(row.key)) continue;
      this.#returned.set(row.key, row.insertedAtMs);
      this.#watermark = Math.max(this.#watermark, row.insertedAtMs);
      rows.push(row);
    }
    const forgetBefore = this.#watermark - 2 * this.overlapMs;
    for (const [key, at] of this.#returned) if (at < forgetBefore) this.#returned.delete(key);
    return rows;
  }
}
