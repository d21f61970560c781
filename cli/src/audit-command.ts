import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { outOfBalance, renderAudit, type AuditReport } from '@nanobill/audit';
import { openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { monthOf } from '@nanobill/calendar';
import { AuditRequest, askRunningProcess, auditBooks } from '@nanobill/pipeline';

const USAGE = 'usage: nanobill audit [--month YYYY-MM] [--format table|json]';

/**
 * `nanobill audit [--month YYYY-MM] [--format table|json]`: the books checked (docs/finance.md
 * "Audit: the books checked"), this month by default. Asked of the running process when it holds
 * the embedded data (it also runs the enforcement service); else checked here, where the
 * enforcement check is skipped. Exit code 1 when a check found a violation or failed.
 */
export async function audit(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      month: { type: 'string', default: monthOf(new Date()) },
      format: { type: 'string', default: 'table' },
    },
  });
  const request = AuditRequest.safeParse({ month: values.month });
  if (!request.success || !['table', 'json'].includes(values.format)) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const viaRunningProcess = config.clickhouseUrl
    ? undefined
    : await askRunningProcess(config.dataDir, '/audit', request.data);
  let report: AuditReport;
  if (viaRunningProcess) {
    report = JSON.parse(await text(viaRunningProcess)) as AuditReport;
  } else {
    const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
    try {
      report = await auditBooks(client, request.data, {
        deadlineMs: config.pricing.deadlineMs,
        graceMs: config.attributionGraceMs,
      });
    } finally {
      await client.close();
    }
  }
  process.stdout.write(
    values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderAudit(report),
  );
  return outOfBalance(report) ? 1 : 0;
}
