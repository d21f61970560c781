import { pricingKey, type EventWindow } from '@nanobill/contract';
import { BatchWriter, type ClickHouseClient, type Refusal } from '@nanobill/clickhouse';
import {
  DUPLICATE_COLUMNS,
  DUPLICATES_TABLE,
  LEDGER_COLUMNS,
  LEDGER_TABLE,
  PENDING_COLUMNS,
  PENDING_TABLE,
  UNPRICED_COLUMNS,
  UNPRICED_TABLE,
  type DuplicateRow,
  type LedgerRow,
  type PendingRow,
  type UnpricedRow,
} from '@nanobill/tables';
import { rowKey } from './rows.js';
import type { PendingRef } from './pending.js';
import type { LoadedPage, LoadPage } from './pending-loads.js';

interface WriterSettings {
  clickhouse: ClickHouseClient;
  maxRows: number;
  maxWaitMs: number;
  onError(error: unknown, rows: number): void;
}

export function pendingWriter(settings: WriterSettings): BatchWriter<PendingRow> {
  return new BatchWriter<PendingRow>({
    ...settings,
    table: PENDING_TABLE,
    columns: PENDING_COLUMNS,
  });
}

/** What one write of the ledger or unpriced writer did with its rows, besides storing them. */
export interface WriteOnceResult<Row> {
  /** Rows ClickHouse refused for their values (see `BatchWriter`): in neither table. */
  refused: ReadonlyMap<Row, Refusal>;
  /**
   * Rows not written because their (provider, provider request id) already has a ledger or an
   * unpriced row (or an earlier row of the same flush), with the request id that holds it: the
   * row's own request id for a replay (resolved already), another one for a reused provider
   * request id (a duplicate, quarantined by the round).
   */
  taken: ReadonlyMap<Row, string>;
}

/**
 * Ledger and unpriced rows are written once, and a request is in one or the other: what already
 * has a row in either is dropped before the insert (a redelivered event, a provider answering
 * twice, a restart) and reported in the write's `taken`, so the round announces only what was
 * written and tells a replay from a reused provider request id. A row ClickHouse refuses for its
 * values comes back in `refused`: it is in neither table, and the round keeps the request pending.
 */
export class WriteOnceWriter<Row extends { request_id: string }> {
  readonly #writer: BatchWriter<Row>;
  readonly #once: WriteOnce<Row>;
  /** Filled inside the flush (`beforeInsert`), read by the write that offered the row. */
  readonly #taken = new WeakMap<Row, string>();

  constructor(
    settings: WriterSettings,
    readonly table: string,
    columns: ReadonlyArray<keyof Row & string>,
    once: WriteOnce<Row>,
    onInserted: (rows: Row[]) => void = () => undefined,
  ) {
    this.#once = once;
    this.#writer = new BatchWriter<Row>({
      ...settings,
      table,
      columns,
      beforeInsert: (rows) => this.#fresh(settings.clickhouse, rows),
      onInserted,
    });
  }

  async write(rows: readonly Row[]): Promise<WriteOnceResult<Row>> {
    const { refused } = await this.#writer.write(rows);
    const taken = new Map<Row, string>();
    for (const row of rows) {
      const holder = this.#taken.get(row);
      if (holder !== undefined) taken.set(row, holder);
    }
    return { refused, taken };
  }

  close(): Promise<void> {
    return this.#writer.close();
  }

  async #fresh(clickhouse: ClickHouseClient, rows: Row[]): Promise<Row[]> {
    const { keyOf, holders } = this.#once;
    const first = new Map<string, Row>();
    for (const row of rows) {
      const kept = first.get(keyOf(row));
      if (kept === undefined) first.set(keyOf(row), row);
      else this.#taken.set(row, kept.request_id);
    }
    const stored = await holders(clickhouse, [...first.values()]);
    return [...first.values()].filter((row) => {
      const holder = stored.get(keyOf(row));
      if (holder !== undefined) this.#taken.set(row, holder);
      return holder === undefined;
    });
  }
}

/** A table's write-once rule: its key, and the request holding each key already stored. */
interface WriteOnce<Row> {
  keyOf(row: Row): string;
  holders(clickhouse: ClickHouseClient, rows: Row[]): Promise<Map<string, string>>;
}

/**
 * Ledger and unpriced: one row per (provider, provider request id) across both tables, looked
 * up within `reuseSpanMs` of the rows' event times (see `reuseSpanMs`).
 */
function onePerProviderRequest(reuseSpanMs: number): WriteOnce<LedgerRow | UnpricedRow> {
  return {
    keyOf: rowKey,
    holders: (clickhouse, rows) => storedHolders(clickhouse, rows, reuseSpanMs),
  };
}

/**
 * How far apart in event time two requests sharing a provider request id are looked for: the
 * event window (an event is accepted up to `maxAgeMs` late and `maxAheadMs` early) plus the
 * pricing deadline (a request waits that long for its cost). Both tables are partitioned by
 * event month, so the look-up reads the two or three months around the rows, never all history;
 * a reuse further apart is not detected (docs/architecture.md "How pricing stays exact").
 */
export function reuseSpanMs(window: EventWindow, deadlineMs: number): number {
  return window.maxAgeMs + window.maxAheadMs + deadlineMs;
}

export function ledgerWriter(
  settings: WriterSettings & { reuseSpanMs: number },
  onInserted: (rows: LedgerRow[]) => void,
) {
  return new WriteOnceWriter<LedgerRow>(
    settings,
    LEDGER_TABLE,
    LEDGER_COLUMNS,
    onePerProviderRequest(settings.reuseSpanMs),
    onInserted,
  );
}

export function unpricedWriter(settings: WriterSettings & { reuseSpanMs: number }) {
  return new WriteOnceWriter<UnpricedRow>(
    settings,
    UNPRICED_TABLE,
    UNPRICED_COLUMNS,
    onePerProviderRequest(settings.reuseSpanMs),
  );
}

/**
 * The quarantine of reused provider request ids: one row per request, so a request quarantined
 * again (after a replay) is neither written nor announced twice (it comes back in `taken`).
 */
export function duplicatesWriter(settings: WriterSettings) {
  return new WriteOnceWriter<DuplicateRow>(settings, DUPLICATES_TABLE, DUPLICATE_COLUMNS, {
    keyOf: requestKey,
    holders: quarantined,
  });
}

/**
 * Keys looked up in one query. They travel as one JSON parameter: as `Array(String)` parameters
 * ten thousand ids cost chdb more to read than the look-up itself.
 */
const LOOKUP_CHUNK = 100_000;

/** `(columns) IN` the tuples of `{name:String}`, a JSON array of arrays of strings. */
function inJsonTuples(columns: string[], name: string): string {
  const types = columns.map(() => 'String').join(', ');
  return `(${columns.join(', ')}) IN (SELECT arrayJoin(JSONExtract({${name}:String}, 'Array(Tuple(${types}))')))`;
}

/**
 * The keys of `rows` that already have a ledger or an unpriced row, with its request id: in any
 * month within `spanMs` of the chunk's event times (a key reused across a month turn is in
 * another partition, where ReplacingMergeTree would keep both rows), bounded so that a partition
 * pruned by event time is never read.
 */
async function storedHolders<
  Row extends { provider: string; provider_request_id: string; event_time: string },
>(clickhouse: ClickHouseClient, rows: Row[], spanMs: number): Promise<Map<string, string>> {
  const holders = new Map<string, string>();
  for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
    const chunk = rows.slice(i, i + LOOKUP_CHUNK);
    let first = Infinity;
    let last = -Infinity;
    for (const row of chunk) {
      const time = Date.parse(row.event_time);
      if (time < first) first = time;
      if (time > last) last = time;
    }
    const params = {
      from: clickhouseTime(new Date(first - spanMs)),
      to: clickhouseTime(new Date(last + spanMs)),
      keys: JSON.stringify(chunk.map((r) => [r.provider, r.provider_request_id])),
    };
    const where = `event_time BETWEEN {from:DateTime64(3, 'UTC')} AND {to:DateTime64(3, 'UTC')}
      AND ${inJsonTuples(['provider', 'provider_request_id'], 'keys')}`;
    const result = await clickhouse.query({
      query: `SELECT provider, provider_request_id, request_id FROM billing.ledger_entries
              WHERE ${where}
              UNION ALL
              SELECT provider, provider_request_id, request_id FROM billing.unpriced_entries
              WHERE ${where}`,
      query_params: params,
      format: 'JSONCompactEachRow',
    });
    for (const [provider, id, requestId] of await result.json<[string, string, string]>()) {
      holders.set(pricingKey(provider, id), requestId);
    }
  }
  return holders;
}

/** The requests of `rows` already in the quarantine (each holds its own key). */
async function quarantined(
  clickhouse: ClickHouseClient,
  rows: DuplicateRow[],
): Promise<Map<string, string>> {
  const stored = new Map<string, string>();
  for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
    const chunk = rows.slice(i, i + LOOKUP_CHUNK);
    const result = await clickhouse.query({
      query: `SELECT provider, provider_request_id, request_id FROM ${DUPLICATES_TABLE}
              WHERE ${inJsonTuples(['provider', 'provider_request_id', 'request_id'], 'keys')}`,
      query_params: {
        keys: JSON.stringify(chunk.map((r) => [r.provider, r.provider_request_id, r.request_id])),
      },
      format: 'JSONCompactEachRow',
    });
    for (const [provider, id, requestId] of await result.json<[string, string, string]>()) {
      stored.set(
        requestKey({ provider, provider_request_id: id, request_id: requestId }),
        requestId,
      );
    }
  }
  return stored;
}

function requestKey(row: Pick<DuplicateRow, 'provider' | 'provider_request_id' | 'request_id'>) {
  return [row.provider, row.provider_request_id, row.request_id].join('\u0000');
}

/**
 * How much memory a reload query groups or sorts in before it spills to disk. Grouping
 * 3,000,000 stored requests at once took embedded ClickHouse (in pricing's process) 170 MiB
 * more; a page (`pageEnd`) groups far fewer, and this bounds what is left.
 */
export const LOAD_QUERY_MEMORY_BYTES = 128 * 1024 * 1024;

/**
 * The pending requests of some partitions first seen since `since` that are neither in the
 * ledger, unpriced, nor quarantined as a reused provider request id: what an instance must price
 * after it is assigned those partitions (or restarts). One per request, oldest first, ids only;
 * with a `limit`, a page of about that many stored rows first seen from `fromMs` on, and where
 * the next page starts. A request id that reuses another's provider request id is loaded beside
 * it, for the round to quarantine.
 *
 * Bounded by time on every table it reads (each is partitioned by time), never all history:
 * pending rows from `since` (the caller's deadline window), and ledger, unpriced and
 * quarantine rows from the oldest event among them.
 */
export async function loadPending(
  clickhouse: ClickHouseClient,
  partitions: number[],
  window: { since: Date } & Partial<LoadPage>,
): Promise<LoadedPage> {
  if (partitions.length === 0) return { rows: [] };
  const from = new Date(Math.max(window.since.getTime(), window.fromMs ?? -Infinity));
  const params: Record<string, unknown> = { partitions, from: clickhouseTime(from) };
  let inPage = `source_partition IN {partitions:Array(UInt32)}
                AND first_seen_at >= {from:DateTime64(3, 'UTC')}`;
  // Where the page ends: the first-seen time of the request `limit` rows on (a cheap top-N of
  // one column), so that only the page's rows are grouped, never all that is stored.
  const end =
    window.limit === undefined
      ? undefined
      : await pageEnd(clickhouse, inPage, params, window.limit);
  if (end !== undefined) {
    params.to = clickhouseTime(new Date(end));
    inPage += ` AND first_seen_at <= {to:DateTime64(3, 'UTC')}`;
  }
  const resolved = (table: string) =>
    `SELECT provider, provider_request_id, request_id FROM ${table}
     WHERE event_time >= (SELECT min(event_time) FROM billing.pricing_pending WHERE ${inPage})`;
  // Aliases differ from the column names: an alias named like a column would replace it in WHERE.
  const result = await clickhouse.query({
    query: `SELECT provider AS p, provider_request_id AS id, request_id AS rid,
                   toUnixTimestamp64Milli(min(first_seen_at)) AS first_seen_ms,
                   any(source_partition) AS part
            FROM billing.pricing_pending
            WHERE ${inPage}
            GROUP BY provider, provider_request_id, request_id
            HAVING (p, id, rid) NOT IN (${resolved(LEDGER_TABLE)})
               AND (p, id, rid) NOT IN (${resolved(UNPRICED_TABLE)})
               AND (p, id, rid) NOT IN (${resolved(DUPLICATES_TABLE)})
            ORDER BY first_seen_ms, p, id, rid`,
    query_params: params,
    // Spilled to disk past this: a page's rows are few, but a whole reload may be millions.
    clickhouse_settings: {
      max_bytes_before_external_group_by: String(LOAD_QUERY_MEMORY_BYTES),
      max_bytes_before_external_sort: String(LOAD_QUERY_MEMORY_BYTES),
    },
    format: 'JSONCompactEachRow',
  });
  const rows = (await result.json<[string, string, string, string, number]>()).map(
    ([provider, id, requestId, firstSeenMs, partition]) => ({
      provider,
      provider_request_id: id,
      request_id: requestId,
      first_seen_at: new Date(Number(firstSeenMs)).toISOString(),
      source_partition: Number(partition),
    }),
  );
  return end === undefined ? { rows } : { rows, nextFromMs: end + 1 };
}

/**
 * The first-seen time (ms) of the stored row `limit` rows into the page, if there is one: the
 * page takes every row up to and including that millisecond.
 */
async function pageEnd(
  clickhouse: ClickHouseClient,
  inPage: string,
  params: Record<string, unknown>,
  limit: number,
): Promise<number | undefined> {
  const result = await clickhouse.query({
    query: `SELECT toUnixTimestamp64Milli(first_seen_at) FROM billing.pricing_pending
            WHERE ${inPage} ORDER BY first_seen_at LIMIT 1 OFFSET {offset:UInt64}`,
    query_params: { ...params, offset: limit },
    format: 'JSONCompactEachRow',
  });
  const [row] = await result.json<[string]>();
  return row === undefined ? undefined : Number(row[0]);
}

/**
 * The stored rows of one provider's pending requests (a round's chunk of at most
 * `MAX_IDS_PER_CALL`): one per request, with its earliest first-seen time. A chunk's ids are
 * neighbours in `billing.pricing_pending`'s key (partition, provider, provider request id: see
 * `PendingRequests.ids`), so it is read as one key range per partition, from the day the oldest
 * of them was first seen: two to three times cheaper on chdb than looking up ten thousand ids
 * (whose parameters alone cost more than the read). Rows of the range that are not asked for
 * (requests resolved or in another chunk) are left out here. A request whose row is no longer
 * stored (past the table's TTL) is absent.
 */
export async function pendingRows(
  clickhouse: ClickHouseClient,
  provider: string,
  refs: readonly PendingRef[],
): Promise<PendingRow[]> {
  if (refs.length === 0) return [];
  let since = Infinity;
  const ranges = new Map<number, { from: string; to: string }>();
  for (const ref of refs) {
    since = Math.min(since, Date.parse(ref.first_seen_at));
    const id = ref.provider_request_id;
    const range = ranges.get(ref.source_partition);
    if (!range) ranges.set(ref.source_partition, { from: id, to: id });
    else if (id < range.from) range.from = id;
    else if (id > range.to) range.to = id;
  }
  const params: Record<string, unknown> = { provider, since };
  const inRanges = [...ranges].map(([partition, { from, to }], i) => {
    Object.assign(params, { [`p${i}`]: partition, [`from${i}`]: from, [`to${i}`]: to });
    return `(source_partition = {p${i}:UInt32}
             AND provider_request_id BETWEEN {from${i}:String} AND {to${i}:String})`;
  });
  const result = await clickhouse.query({
    query: `SELECT provider_request_id, request_id, toUnixTimestamp64Milli(event_time), user_id,
                   bill_to, model, task, toUnixTimestamp64Milli(first_seen_at), source_partition,
                   compute_time_ms, hardware, input_tokens, output_tokens
            FROM billing.pricing_pending
            WHERE provider = {provider:String} AND (${inRanges.join(' OR ')})
              AND first_seen_at >= fromUnixTimestamp64Milli({since:Int64})`,
    query_params: params,
    format: 'JSONCompactEachRow',
  });
  type Stored = [
    string,
    string,
    string,
    string,
    string | null,
    string,
    string,
    string,
    number,
    string | null,
    string | null,
    string | null,
    string | null,
  ];
  const asked = new Set(refs.map((r) => r.request_id));
  // A request stored twice (redelivered) is read twice: kept once, first seen at its earliest.
  const rows = new Map<string, PendingRow>();
  for (const stored of await result.json<Stored>()) {
    const [id, rid, eventMs, uid, billTo, model, task, seenMs, part] = stored;
    if (!asked.has(rid)) continue;
    const firstSeenAt = new Date(Number(seenMs)).toISOString();
    const known = rows.get(rid);
    if (known) {
      if (firstSeenAt < known.first_seen_at) known.first_seen_at = firstSeenAt;
      continue;
    }
    const [, , , , , , , , , compute, hw, input, output] = stored;
    rows.set(rid, {
      provider,
      provider_request_id: id,
      request_id: rid,
      event_time: new Date(Number(eventMs)).toISOString(),
      user_id: uid,
      bill_to: billTo,
      model,
      task,
      first_seen_at: firstSeenAt,
      source_partition: Number(part),
      compute_time_ms: nullableNumber(compute),
      hardware: hw,
      input_tokens: nullableNumber(input),
      output_tokens: nullableNumber(output),
    });
  }
  return [...rows.values()];
}

function nullableNumber(value: string | number | null): number | null {
  return value === null ? null : Number(value);
}

/** A time as a `DateTime64(3, 'UTC')` query parameter. */
export function clickhouseTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
