// The chdb server's password at rest: generated once, private to its owner, never printed, and
// not taken from a file someone else planted under the data directory.
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serverPassword, PASSWORD_FILE_NAME } from '@nanobill/chdb-server';
import { spawnTs } from '@nanobill/testkit';

const CLI = fileURLToPath(new URL('../../infra/chdb-server/src/cli.ts', import.meta.url));
const freshDir = () => mkdtempSync(join(tmpdir(), 'nanobill-hostile-chdb-password-'));
const generated = (dataDir: string) =>
  serverPassword({ password: undefined, passwordFile: undefined, dataDir });

describe('chdb server password', () => {
  it('is generated once into the data directory, readable by its owner only, and kept', () => {
    const dataDir = freshDir();
    const first = generated(dataDir);
    const file = join(dataDir, PASSWORD_FILE_NAME);
    expect(first).toMatchObject({ from: file, file });
    expect(first.password.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${first.password}\n`);
    expect(generated(dataDir).password).toBe(first.password);
  });

  it('comes from the environment or a mounted file first, and is never short', () => {
    const dataDir = freshDir();
    const fromEnv = serverPassword({ password: 'p'.repeat(20), passwordFile: undefined, dataDir });
    expect(fromEnv).toEqual({
      password: 'p'.repeat(20),
      from: 'NANOBILL_CHDB_SERVER_PASSWORD',
      file: undefined,
    });
    const mounted = join(dataDir, 'mounted-secret');
    writeFileSync(mounted, `${'m'.repeat(24)}\n`);
    expect(serverPassword({ password: undefined, passwordFile: mounted, dataDir })).toMatchObject({
      password: 'm'.repeat(24),
      from: mounted,
    });
    expect(() => serverPassword({ password: 'short', passwordFile: undefined, dataDir })).toThrow(
      /at least 16 characters/,
    );
  });

  it('is not read through a symbolic link planted at its path', () => {
    const dataDir = freshDir();
    const planted = join(freshDir(), 'attacker-chosen');
    writeFileSync(planted, 'attacker-known-password-0123456789\n', { mode: 0o600 });
    symlinkSync(planted, join(dataDir, PASSWORD_FILE_NAME));
    expect(() => generated(dataDir)).toThrow(/symbolic link/);
  });

  it('is not read from a file other users can read', () => {
    const dataDir = freshDir();
    const file = join(dataDir, PASSWORD_FILE_NAME);
    writeFileSync(file, 'readable-by-everyone-0123456789\n');
    chmodSync(file, 0o644);
    expect(() => generated(dataDir)).toThrow(/chmod 600/);
  });

  it('is neither printed nor logged by npm run chdb:server, which says where it is', async () => {
    const dataDir = freshDir();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NANOBILL_DATA_DIR: dataDir,
      LOG_LEVEL: 'trace',
    };
    delete env.NANOBILL_CHDB_SERVER_PASSWORD;
    delete env.NANOBILL_CHDB_SERVER_PASSWORD_FILE;
    const run = spawnTs(CLI, env, ['--port', '0']);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      run.child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('clients use')) resolve();
      });
      void run.exited.then((e) => reject(new Error(`chdb server exited: ${e.stderr}`)));
    });
    run.child.kill('SIGTERM');
    const { stdout, stderr } = await run.exited;
    const password = readFileSync(join(dataDir, PASSWORD_FILE_NAME), 'utf8').trim();
    expect(stdout).toContain(join(dataDir, PASSWORD_FILE_NAME));
    expect(stdout).toMatch(/CLICKHOUSE_URL=http:\/\/default:<password>@127\.0\.0\.1:\d+/);
    expect(stdout + stderr).not.toContain(password);
  });
});
