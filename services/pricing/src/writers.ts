import { pricingKey } from '@nanobill/contract';
import { BatchWriter, firstPerKey, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  LEDGER_COLUMNS,
  PENDING_COLUMNS,
  UNPRICED_COLUMNS,
  rowKey,
  type LedgerRow,
  type PendingRow,
  type UnpricedRow,
} from './rows.js';

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

export const PENDING_TABLE = 'billing.pricing_pending';
export const LEDGER_TABLE = 'billing.ledger_entries';
export const UNPRICED_TABLE = 'billing.unpriced_entries';

/**
 * Ledger and unpriced rows are written once, and a request is in one or the other: what already
 * has a row in either is dropped before the insert (a redelivered event, a provider answering
 * twice, a restart). A row ClickHouse refuses for its values comes back in the write's
 * `refused`: it is in neither table, and the round keeps the request pending.
 */
function writeOnce<Row extends LedgerRow | UnpricedRow>(
  settings: WriterSettings,
  table: string,
  columns: ReadonlyArray<keyof Row & string>,
  onInserted: (rows: Row[]) => void,
): BatchWriter<Row> {
  return new BatchWriter<Row>({
    ...settings,
    table,
    columns,
    beforeInsert: (rows) => withoutResolved(settings.clickhouse, firstPerKey(rows, rowKey)),
    onInserted,
  });
}

export function ledgerWriter(settings: WriterSettings, onInserted: (rows: LedgerRow[]) => void) {
  return writeOnce<LedgerRow>(settings, LEDGER_TABLE, LEDGER_COLUMNS, onInserted);
}

export function unpricedWriter(
  settings: WriterSettings,
  onInserted: (rows: UnpricedRow[]) => void,
) {
  return writeOnce<UnpricedRow>(settings, UNPRICED_TABLE, UNPRICED_COLUMNS, onInserted);
}

const LOOKUP_CHUNK = 10_000;

/** Drops the requests that already have a ledger or an unpriced row (same months only: key = event). */
async function withoutResolved<
  Row extends { provider: string; provider_request_id: string; event_time: string },
>(clickhouse: ClickHouseClient, rows: Row[]): Promise<Row[]> {
  const resolved = new Set<string>();
  for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
    const chunk = rows.slice(i, i + LOOKUP_CHUNK);
    const params = {
      months: [...new Set(chunk.map((r) => Number(r.event_time.slice(0, 7).replace('-', ''))))],
      providers: chunk.map((r) => r.provider),
      ids: chunk.map((r) => r.provider_request_id),
    };
    const keys = `(provider, provider_request_id) IN (SELECT arrayJoin(arrayZip({providers:Array(String)}, {ids:Array(String)})))`;
    const result = await clickhouse.query({
      query: `SELECT provider, provider_request_id FROM billing.ledger_entries
              WHERE toYYYYMM(event_time) IN {months:Array(UInt32)} AND ${keys}
              UNION ALL
              SELECT provider, provider_request_id FROM billing.unpriced_entries
              WHERE toYYYYMM(event_time) IN {months:Array(UInt32)} AND ${keys}`,
      query_params: params,
      format: 'JSONCompactEachRow',
    });
    for (const [provider, id] of await result.json<[string, string]>()) {
      resolved.add(pricingKey(provider, id));
    }
  }
  return rows.filter((r) => !resolved.has(rowKey(r)));
}

/**
 * The pending requests of some partitions that have neither a ledger nor an unpriced row: what
 * an instance must price after it is assigned those partitions (or restarts).
 */
export async function loadPending(
  clickhouse: ClickHouseClient,
  partitions: number[],
): Promise<PendingRow[]> {
  if (partitions.length === 0) return [];
  // Aliases differ from the column names: an alias named like a column would replace it in WHERE.
  const result = await clickhouse.query({
    query: `SELECT provider AS p, provider_request_id AS id, any(request_id) AS rid,
                   toUnixTimestamp64Milli(any(event_time)) AS event_ms, any(user_id) AS uid,
                   any(bill_to) AS billed_to, any(model) AS m, any(task) AS t,
                   toUnixTimestamp64Milli(min(first_seen_at)) AS first_seen_ms, any(source_partition) AS part,
                   any(compute_time_ms) AS compute_ms, any(hardware) AS hw,
                   any(input_tokens) AS in_tokens, any(output_tokens) AS out_tokens
            FROM billing.pricing_pending
            WHERE source_partition IN {partitions:Array(UInt32)}
            GROUP BY provider, provider_request_id
            HAVING (p, id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_entries)
               AND (p, id) NOT IN (SELECT provider, provider_request_id FROM billing.unpriced_entries)`,
    query_params: { partitions },
    format: 'JSONEachRow',
  });
  type Stored = {
    p: string;
    id: string;
    rid: string;
    event_ms: string;
    uid: string;
    billed_to: string | null;
    m: string;
    t: string;
    first_seen_ms: string;
    part: number;
    compute_ms: string | null;
    hw: string | null;
    in_tokens: string | null;
    out_tokens: string | null;
  };
  return (await result.json<Stored>()).map((r) => ({
    provider: r.p,
    provider_request_id: r.id,
    request_id: r.rid,
    event_time: new Date(Number(r.event_ms)).toISOString(),
    user_id: r.uid,
    bill_to: r.billed_to,
    model: r.m,
    task: r.t,
    first_seen_at: new Date(Number(r.first_seen_ms)).toISOString(),
    source_partition: r.part,
    compute_time_ms: r.compute_ms === null ? null : Number(r.compute_ms),
    hardware: r.hw,
    input_tokens: r.in_tokens === null ? null : Number(r.in_tokens),
    output_tokens: r.out_tokens === null ? null : Number(r.out_tokens),
  }));
}
