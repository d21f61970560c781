import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '@nanobill/config';
import { openFinanceSql } from '@nanobill/clickhouse';
import { askRunningProcess, runFinanceQuery } from '@nanobill/pipeline';

/**
 * `nanobill query "<SQL>" [--format F]`: finance SQL, like clickhouse-client (Pretty on a
 * terminal, TSV in a pipe). Checked where it runs: in the running process (socket) when it holds
 * the embedded data, else here, on the finance user's server (CLICKHOUSE_FINANCE_URL), the
 * configured server, or embedded ClickHouse.
 */
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
  const url = config.clickhouseFinanceUrl ?? config.clickhouseUrl;
  if (url === undefined) {
    const viaRunningProcess = await askRunningProcess(config.dataDir, '/query', request);
    if (viaRunningProcess) {
      await pipeline(viaRunningProcess, process.stdout, { end: false });
      return 0;
    }
  }
  const finance = openFinanceSql({ url, dataDir: config.dataDir });
  try {
    await pipeline(await runFinanceQuery(finance, request), process.stdout, { end: false });
    return 0;
  } finally {
    await finance.close();
  }
}
