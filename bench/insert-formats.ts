// `npm run bench:inserts [-- --rows N --batch B --stored S]`: what a flush of ingest costs, piece by
// piece (issue 15, "ClickHouse inserts"). N rows as ingest stores them (router simulator events →
// toUsageRow; default 200,000) are inserted B at a time (default 20,000, ingest's batch) in each
// insert format the client can send, each format into its own copy of billing.usage, batches
// interleaved across formats so that whatever else the machine runs weighs on all of them alike;
// then the duplicate check before each insert, as it was and as it is, against S stored rows
// (default 1,000,000). Prints rows/s and CPU per row side by side; writes bench/results/.
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { migrate, openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { storedRequestIds, toUsageRow } from '@nanobill/ingest';
import { createEventGenerator } from '@nanobill/router-simulator';
import { USAGE_COLUMNS, USAGE_TABLE, type UsageRow } from '@nanobill/tables';
import { tempDir } from '@nanobill/testkit';
import { writeBenchReport } from './report.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '20000' },
    stored: { type: 'string', default: '1000000' },
  },
});
const totalRows = Number(values.rows);
const batchRows = Number(values.batch);
const storedRows = Number(values.stored);
const config = loadConfig();
const clickhouse = openClickHouse({
  url: config.clickhouseUrl,
  dataDir: tempDir('nanobill-bench-'),
});
await migrate(clickhouse);

const generator = createEventGenerator({
  requestIdPrefix: 'bench-',
  eventsPerSecondOfSimTime: Date.now,
});
let offset = 0;
const nextRows = (n: number): UsageRow[] =>
  generator.take(n).map((e) => toUsageRow(e, { partition: 0, offset: String(offset++) }));
const columns = [...USAGE_COLUMNS] as unknown as [string, ...string[]];
const positional = (rows: UsageRow[]) => rows.map((row) => USAGE_COLUMNS.map((c) => row[c]));
/** A raw body for the client: a stream of bytes (not objects), which it passes through as is. */
const body = (text: string) => Readable.from([text], { objectMode: false });

const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};
const TSV_SPECIAL = /[\\\t\n\r\0\b\f]/g;
const tsvCell = (v: unknown) =>
  v === null
    ? '\\N'
    : typeof v === 'string'
      ? v.replace(TSV_SPECIAL, (c) => TSV_ESCAPES[c]!)
      : String(v);
const csvCell = (v: unknown) =>
  v === null ? '\\N' : typeof v === 'string' ? `"${v.replaceAll('"', '""')}"` : String(v);
const lines = (rows: UsageRow[], cell: (v: unknown) => string, separator: string) =>
  rows.map((row) => USAGE_COLUMNS.map((c) => cell(row[c])).join(separator)).join('\n') + '\n';

/** Each format: how a batch goes in. The first is ingest's (BatchWriter). */
const FORMATS: Record<string, (table: string, rows: UsageRow[]) => Promise<unknown>> = {
  'JSONCompactEachRow (ingest)': (table, rows) =>
    clickhouse.insert({ table, columns, values: positional(rows), format: 'JSONCompactEachRow' }),
  JSONEachRow: (table, rows) => clickhouse.insert({ table, values: rows, format: 'JSONEachRow' }),
  'TabSeparated (encoded in JS)': (table, rows) =>
    clickhouse.insert({
      table,
      columns,
      values: body(lines(rows, tsvCell, '\t')),
      format: 'TabSeparated',
    }),
  'CSV (encoded in JS)': (table, rows) =>
    clickhouse.insert({ table, columns, values: body(lines(rows, csvCell, ',')), format: 'CSV' }),
  'JSONCompactEachRow, async_insert + wait': (table, rows) =>
    clickhouse.insert({
      table,
      columns,
      values: positional(rows),
      format: 'JSONCompactEachRow',
      clickhouse_settings: { async_insert: 1, wait_for_async_insert: 1 },
    }),
};
/** Formats the client cannot send here, and why (printed with the figures). */
const NOT_MEASURED = [
  'RowBinary / Native: @clickhouse/client 1.23 has no encoder for inserts, and no maintained one exists on npm for it',
  'Parquet: the client takes a Parquet stream, but no encoder is a dependency; and embedded chdb turns every insert body into UTF-8 text, so no binary format reaches it intact',
];

async function copyTable(name: string): Promise<string> {
  const table = `billing.bench_${name.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase()}`;
  await clickhouse.command({ query: `CREATE TABLE ${table} AS ${USAGE_TABLE}` });
  return table;
}

/** Wall time and process CPU (every thread: the client and embedded ClickHouse) of `work`. */
async function measure(work: () => Promise<unknown>) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

async function contentSum(table: string): Promise<string> {
  const rs = await clickhouse.query({
    query: `SELECT count(), sum(cityHash64(${USAGE_COLUMNS.join(', ')})) FROM ${table}`,
    format: 'JSONCompactEachRow',
  });
  return JSON.stringify(await rs.json());
}

console.log(
  `bench:inserts: ${totalRows} rows, ${batchRows} a batch; duplicate check against ${storedRows} stored rows; ClickHouse ${config.clickhouseUrl ?? 'embedded'}`,
);
const tables = Object.fromEntries(
  await Promise.all(
    Object.keys(FORMATS).map(async (name) => [name, await copyTable(name)] as const),
  ),
);
const spent = Object.fromEntries(Object.keys(FORMATS).map((name) => [name, { ms: 0, cpuMs: 0 }]));
const formatEntries = Object.entries(FORMATS);
for (let done = 0, round = 0; done < totalRows; done += batchRows, round++) {
  const rows = nextRows(Math.min(batchRows, totalRows - done));
  // Each round starts with the next format: none always runs first, after the rows were made.
  const order = formatEntries.map((_, i) => formatEntries[(i + round) % formatEntries.length]!);
  for (const [name, insert] of order) {
    const { ms, cpuMs } = await measure(() => insert(tables[name]!, rows));
    spent[name]!.ms += ms;
    spent[name]!.cpuMs += cpuMs;
  }
}
const reference = await contentSum(tables['JSONCompactEachRow (ingest)']!);
const formats = await Promise.all(
  Object.keys(FORMATS).map(async (name) => ({
    format: name,
    rowsPerSecond: Math.round(totalRows / (spent[name]!.ms / 1000)),
    cpuMicrosecondsPerRow: Number(((spent[name]!.cpuMs * 1000) / totalRows).toFixed(1)),
    sameRows: (await contentSum(tables[name]!)) === reference,
  })),
);
console.log('  insert format                               rows/s   CPU µs/row  same rows');
for (const f of formats) {
  console.log(
    `  ${f.format.padEnd(42)} ${String(f.rowsPerSecond).padStart(7)}   ${String(f.cpuMicrosecondsPerRow).padStart(9)}   ${f.sameRows ? 'yes' : 'NO'}`,
  );
}
for (const line of NOT_MEASURED) console.log(`  not measured: ${line}`);

// The duplicate check, against `storedRows` rows of the same shape.
for (let stored = 0; stored < storedRows; stored += batchRows) {
  const rows = nextRows(Math.min(batchRows, storedRows - stored));
  await clickhouse.insert({
    table: USAGE_TABLE,
    columns,
    values: positional(rows),
    format: 'JSONCompactEachRow',
  });
}
const hourOf = (r: UsageRow) => `${r.event_time.slice(0, 10)} ${r.event_time.slice(11, 13)}:00:00`;
/** Until 2026-11-26: `Array(String)` parameters, 10,000 ids a query (a server's URL limit). */
async function checkAsParameters(client: ClickHouseClient, rows: UsageRow[]) {
  for (let i = 0; i < rows.length; i += 10_000) {
    const chunk = rows.slice(i, i + 10_000);
    const rs = await client.query({
      query: `SELECT request_id FROM ${USAGE_TABLE}
              WHERE toStartOfHour(event_time) IN {hours:Array(DateTime('UTC'))}
                AND request_id IN (SELECT arrayJoin({ids:Array(String)}))`,
      query_params: { hours: [...new Set(chunk.map(hourOf))], ids: chunk.map((r) => r.request_id) },
      format: 'JSONCompactEachRow',
    });
    await rs.json();
  }
}
/** Ingest's check now (services/ingest/src/usage-writer.ts): one query, the ids inline. */
const checkInline = (client: ClickHouseClient, rows: UsageRow[]) => storedRequestIds(client, rows);
const CHECKS = {
  'Array(String) parameters, 10,000 a query (before)': checkAsParameters,
  'ids inline, one query (ingest)': checkInline,
};
const CHECK_ROUNDS = 6;
const checkSpent = Object.fromEntries(Object.keys(CHECKS).map((name) => [name, [] as number[]]));
for (let round = 0; round < CHECK_ROUNDS; round++) {
  const rows = nextRows(batchRows);
  const checkOrder = round % 2 === 0 ? Object.entries(CHECKS) : Object.entries(CHECKS).reverse();
  for (const [name, check] of checkOrder) {
    checkSpent[name]!.push((await measure(() => check(clickhouse, rows))).ms);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const checks = Object.entries(checkSpent).map(([name, ms]) => ({
  check: name,
  medianMs: Math.round(median(ms)),
  minMs: Math.round(Math.min(...ms)),
}));
console.log(`  duplicate check of ${batchRows} ids against ${storedRows} rows   median   min`);
for (const c of checks) {
  console.log(
    `  ${c.check.padEnd(52)} ${String(c.medianMs).padStart(5)} ms ${String(c.minMs).padStart(5)} ms`,
  );
}

const result = {
  date: new Date().toISOString(),
  rows: totalRows,
  batchRows,
  storedRows,
  formats,
  notMeasured: NOT_MEASURED,
  checks,
};
writeBenchReport({
  bench: 'inserts',
  command: 'npm run bench:inserts',
  figures: [
    ...formats.map((f) => ({
      name: `insert ${f.format}: CPU per row`,
      value: f.cpuMicrosecondsPerRow,
      unit: 'µs',
    })),
    ...checks.map((c) => ({
      name: `duplicate check of ${batchRows.toLocaleString('en-US')} ids vs ${storedRows.toLocaleString('en-US')} rows: ${c.check}`,
      value: c.medianMs,
      unit: 'ms',
    })),
  ],
  details: result,
});
await clickhouse.close();
process.exit(0);
