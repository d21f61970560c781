import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { STATEMENT_CSV_COLUMNS, toCsv } from '@nanobill/credits';
import { formatUsd } from '@nanobill/money';
import { AMOUNTS, type StoredLine } from '@nanobill/statement-lines';
import { StatementsRequest, askRunningProcess, loadStatements } from '@nanobill/pipeline';

function linesFromJson(json: string): StoredLine[] {
  return (JSON.parse(json) as Array<Record<string, unknown>>).map((line) => {
    const parsed = { ...line } as Record<string, unknown>;
    for (const key of AMOUNTS) parsed[key] = BigInt(line[key] as string);
    return parsed as unknown as StoredLine;
  });
}

/** `nanobill statements --month YYYY-MM [--account ID] [--format csv|json|table]`. */
export async function statements(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      month: { type: 'string' },
      account: { type: 'string' },
      format: { type: 'string', default: 'table' },
    },
  });
  const request = StatementsRequest.safeParse({ month: values.month, account: values.account });
  const format = values.format;
  if (!request.success || !['csv', 'json', 'table'].includes(format!)) {
    console.error(
      'usage: nanobill statements --month YYYY-MM [--account ID] [--format csv|json|table]',
    );
    return 2;
  }
  const config = loadConfig();
  const viaRunningProcess = config.clickhouseUrl
    ? undefined
    : await askRunningProcess(config.dataDir, '/statements', request.data);
  let lines: StoredLine[];
  if (viaRunningProcess) {
    lines = linesFromJson(await text(viaRunningProcess));
  } else {
    const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
    try {
      lines = await loadStatements(client, request.data);
    } finally {
      await client.close();
    }
  }
  process.stdout.write(render(lines, format as 'csv' | 'json' | 'table'));
  return 0;
}

function render(lines: StoredLine[], format: 'csv' | 'json' | 'table'): string {
  if (format === 'csv') return toCsv(lines);
  const usd = (nano: bigint) => formatUsd(nano, { decimals: 9, dollarSign: false });
  const rows = lines.map((l) => ({
    month: l.month,
    account_id: l.account_id,
    account_kind: l.account_kind,
    plan: l.plan,
    gross_usd: usd(l.gross),
    credits_granted_usd: usd(l.credits_granted),
    credits_applied_usd: usd(l.credits_applied),
    payable_usd: usd(l.payable),
    written_off_usd: usd(l.written_off),
    custom_key_requests: String(l.custom_key_requests),
    status: l.status,
  }));
  if (format === 'json') {
    const json = rows.map((r) => ({ ...r, custom_key_requests: Number(r.custom_key_requests) }));
    return `${JSON.stringify(json, null, 2)}\n`;
  }
  const widths = STATEMENT_CSV_COLUMNS.map((c) =>
    Math.max(c.length, ...rows.map((r) => r[c].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line([...STATEMENT_CSV_COLUMNS]),
      ...rows.map((r) => line(STATEMENT_CSV_COLUMNS.map((c) => r[c]))),
    ].join('\n') + '\n'
  );
}
