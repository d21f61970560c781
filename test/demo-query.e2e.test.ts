import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '@nanobill/audit';
import { stopBroker } from '@nanobill/kafka-broker';
import { freePortPair, spawnTs, tempDir, waitFor } from '@nanobill/testkit';

const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));
const KAFKA_PORT = await freePortPair(); // a broker of this test's own, apart from the suite's
const dataDir = tempDir('nanobill-e2e-');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NANOBILL_DATA_DIR: dataDir,
  KAFKA_PORT: String(KAFKA_PORT),
  PORT: '0',
  NANOBILL_OPS_PORT: '0',
};
delete env.KAFKA_BROKERS;

const children = new Set<ChildProcess>();

function nanobill(args: string[]) {
  const run = spawnTs(NANOBILL, env, args);
  children.add(run.child);
  return run;
}

describe('nanobill demo, then nanobill query (from an empty data directory)', () => {
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await stopBroker({ dataDir, port: KAFKA_PORT });
  });

  let sent = 0;

  it('demo starts a broker, runs the pipeline and the router simulator, and stops cleanly', async () => {
    const { code, stdout, stderr } = await nanobill(['demo', '--for', '6', '--rate', '300']).exited;
    expect(code, stderr).toBe(0);
    const closing = /sent (\d+) events · (\d+) usage rows stored/.exec(
      stdout.split('demo: stopping')[1] ?? '',
    );
    expect(closing, stdout).not.toBeNull();
    sent = Number(closing![1]);
    expect(sent).toBeGreaterThan(1_000);
    expect(Number(closing![2]), stdout.slice(-4000)).toBe(sent);
  });

  it('query prints the count from the embedded data', async () => {
    const { code, stdout, stderr } = await nanobill(['query', 'SELECT count() FROM billing.usage'])
      .exited;
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe(String(sent));
  });

  it('statements print the month as CSV (RFC 4180, CRLF) and as JSON with exact USD strings', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const csv = await nanobill(['statements', '--month', month, '--format', 'csv']).exited;
    expect(csv.code, csv.stderr).toBe(0);
    const [header, ...lines] = csv.stdout.split('\r\n');
    expect(header).toBe(
      'month,account_id,account_kind,plan,gross_usd,credits_granted_usd,credits_applied_usd,payable_usd,written_off_usd,custom_key_requests,status',
    );
    expect(lines.at(-1)).toBe('');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(0, -1))
      expect(line).toMatch(
        new RegExp(`^${month},[^,]+,(user|org),\\w+,(\\d+\\.\\d{9},){5}\\d+,draft$`),
      );
    const json = await nanobill(['statements', '--month', month, '--format', 'json']).exited;
    expect(JSON.parse(json.stdout)).toHaveLength(lines.length - 1);
  });

  it('query goes through a running pipeline, read-only', async () => {
    const run = nanobill(['run']);
    await waitFor('the query socket', async () =>
      existsSync(join(dataDir, 'nanobill.sock')) ? true : undefined,
    );
    const counted = await nanobill([
      'query',
      'SELECT count() FROM billing.usage',
      '--format',
      'JSONEachRow',
    ]).exited;
    expect(counted.code, counted.stderr).toBe(0);
    expect(JSON.parse(counted.stdout)).toEqual({ 'count()': String(sent) });

    const month = new Date().toISOString().slice(0, 7);
    const statements = await nanobill(['statements', '--month', month, '--format', 'json']).exited;
    expect(statements.code, statements.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(statements.stdout))).toBe(true);

    // The audit asks the running process, which holds the enforcement service: every check runs.
    const audited = await nanobill(['audit', '--month', month, '--format', 'json']).exited;
    const report = JSON.parse(audited.stdout) as AuditReport;
    expect(report.results.map((r) => [r.check, r.skipped, r.error])).toEqual(
      ['usage', 'duplicates', 'statements', 'enforcement', 'alerts'].map((c) => [
        c,
        undefined,
        undefined,
      ]),
    );
    expect(audited.code, audited.stdout).toBe(report.violations > 0 ? 1 : 0);

    const dropped = await nanobill(['query', 'DROP TABLE billing.usage']).exited;
    expect(dropped.code).toBe(1);
    expect(dropped.stderr).toMatch(/readonly/i);

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
