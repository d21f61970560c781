import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '@nanobill/config';
import { openClickHouse } from '@nanobill/clickhouse';
import { runReadOnly } from './query.js';
import { askRunningProcess } from './socket.js';

/** `nanobill query "<SQL>" [--format F]`: like clickhouse-client, Pretty on a terminal, TSV in a pipe. */
export async function query(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string', short: 'f' } },
  });
  const sql = positionals.join(' ');
  if (!sql) {
    console.error(
      'usage: nanobill query "<SQL>" [--format TabSeparated|CSVWithNames|JSONEachRow|PrettyCompact|…]',
    );
    return 2;
  }
  const request = {
    sql,
    format: values.format ?? (process.stdout.isTTY ? 'PrettyCompact' : 'TabSeparated'),
  };
  const config = loadConfig();
  if (!config.clickhouseUrl) {
    const viaRunningProcess = await askRunningProcess(config.dataDir, '/query', request);
    if (viaRunningProcess) {
      await pipeline(viaRunningProcess, process.stdout, { end: false });
      return 0;
    }
  }
  const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await pipeline(await runReadOnly(client, request), process.stdout, { end: false });
    return 0;
  } finally {
    await client.close();
  }
}
