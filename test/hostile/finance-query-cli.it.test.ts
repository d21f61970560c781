import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFinanceSql, type FinanceSql } from '@nanobill/clickhouse';
import {
  quietLogger,
  spawnTs,
  tempDir,
  testClickHouse,
  testWebhookSecrets,
} from '@nanobill/testkit';
import { querySocketPath, startQueryServer } from '@nanobill/pipeline';

const NANOBILL = fileURLToPath(new URL('../../cli/bin/nanobill.js', import.meta.url));

function environment(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NANOBILL_DATA_DIR: dataDir };
  delete env.CLICKHOUSE_URL;
  delete env.CLICKHOUSE_FINANCE_URL;
  return env;
}

const mode = (path: string) => statSync(path).mode & 0o777;

/**
 * `nanobill query` applies the finance SQL check wherever the SQL runs: in the running process
 * that holds embedded ClickHouse (through its Unix socket) and in the command itself.
 */
describe('nanobill query against hostile SQL', () => {
  const dataDir = tempDir('nanobill-query-socket-');
  const scratch = tempDir('nanobill-query-outfile-');
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let finance: FinanceSql;
  let server: { close(): Promise<void> } | undefined;

  beforeAll(async () => {
    ch = await testClickHouse(dataDir);
    finance = openFinanceSql({ dataDir });
    server = await startQueryServer({
      dataDir,
      client: ch.client,
      finance,
      writer: ch.client,
      webhookSecrets: () => testWebhookSecrets(ch.client),
      logger: quietLogger(),
    });
  });

  afterAll(async () => {
    await server?.close();
    await finance?.close();
    await ch?.client.close();
  });

  const query = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnTs(NANOBILL, env, ['query', ...args]).exited;

  it('the socket is 0600, created without a wider moment, and nothing is left beside it', () => {
    const socket = querySocketPath(dataDir);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(mode(socket)).toBe(0o600);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('.sock-'))).toEqual([]);
  });

  it('refuses host files, INTO OUTFILE and other tables through the socket', async () => {
    const socketEnv = environment(dataDir);
    const outfile = join(scratch, 'via-socket.txt');
    const attacks: Array<[string, RegExp]> = [
      ["SELECT file('/etc/passwd')", /function file is not allowed in finance SQL/],
      ["SELECT file('/proc/self/environ')", /function file is not allowed in finance SQL/],
      ['SELECT * FROM `/etc/passwd`', /is not allowed|Unknown table/],
      [`SELECT 1 INTO OUTFILE '${outfile}'`, /INTO OUTFILE is not allowed/],
      ['SELECT * FROM billing.api_tokens', /table billing\.api_tokens is not allowed/],
      ["SELECT * FROM url('http://169.254.169.254/', 'LineAsString')", /table function url/],
      ['SELECT 1; DROP TABLE billing.usage', /Multi-statements are not allowed/],
    ];
    for (const [sql, reason] of attacks) {
      const { code, stdout, stderr } = await query(socketEnv, sql);
      expect(code, `${sql}: ${stderr}`).toBe(1);
      expect(stderr, sql).toMatch(reason);
      expect(stdout + stderr).not.toMatch(/root:x?:0:0|\bPATH=/);
    }
    expect(existsSync(outfile)).toBe(false);
    const weird = await query(socketEnv, 'SELECT 1', '--format', 'CSV FORMAT JSON');
    expect(weird.code).toBe(1);
    expect(weird.stderr).toMatch(/output format name/);
  });

  it('runs finance SQL through the socket', async () => {
    const { code, stdout, stderr } = await query(
      environment(dataDir),
      'SELECT count() AS n FROM billing.ledger',
      '--format',
      'JSONEachRow',
    );
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ n: '0' });
  });

  it('refuses the same when it runs embedded ClickHouse itself, in a private data directory', async () => {
    const fresh = join(tempDir('nanobill-query-direct-'), 'data'); // nanobill creates it
    const env = environment(fresh);
    const refused = await query(env, "SELECT file('/etc/passwd')");
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/function file is not allowed in finance SQL/);
    expect(refused.stdout + refused.stderr).not.toMatch(/root:x?:0:0/);
    expect(mode(fresh)).toBe(0o700);
    expect(mode(join(fresh, 'clickhouse'))).toBe(0o700);
    const legit = await query(env, 'SELECT 1 + 1 AS two');
    expect(legit.code, legit.stderr).toBe(0);
    expect(legit.stdout.trim()).toBe('2');
  });

  it('nanobill migrate --finance-user needs a ClickHouse server and the password', async () => {
    const migrate = (env: NodeJS.ProcessEnv) =>
      spawnTs(NANOBILL, env, ['migrate', '--finance-user', 'finance']).exited;
    const embedded = await migrate(environment(tempDir('nanobill-migrate-')));
    expect(embedded.code).toBe(2);
    expect(embedded.stderr).toMatch(/needs a ClickHouse server \(CLICKHOUSE_URL\)/);
    const env: NodeJS.ProcessEnv = {
      ...environment(tempDir('nanobill-migrate-')),
      CLICKHOUSE_URL: 'http://127.0.0.1:1',
    };
    delete env.NANOBILL_FINANCE_PASSWORD;
    delete env.NANOBILL_FINANCE_PASSWORD_FILE;
    const noPassword = await migrate(env);
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toMatch(
      /NANOBILL_FINANCE_PASSWORD or NANOBILL_FINANCE_PASSWORD_FILE/,
    );
  });
});
