import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  quietLogger,
  spawnTs,
  tempDir,
  testClickHouse,
  testWebhookSecrets,
} from '@nanobill/testkit';
import { openFinanceSql } from '@nanobill/clickhouse';
import { startQueryServer } from '@nanobill/pipeline';

// `nanobill tokens` as an operator (or a script) runs it: a token without an explicit lifetime
// expires, a never-expiring one must be asked for, and revoking an id that does not exist fails
// with a non-zero exit, both on the embedded data directly and through a running process's socket.

const NANOBILL = fileURLToPath(new URL('../../cli/bin/nanobill.js', import.meta.url));
const DAY_MS = 24 * 60 * 60 * 1000;
const direct = tempDir('nanobill-tokens-cli-');
const held = tempDir('nanobill-tokens-socket-');

async function nanobill(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, NANOBILL_DATA_DIR: dataDir, ...env };
  delete base.CLICKHOUSE_URL;
  return spawnTs(NANOBILL, base, ['tokens', ...args]).exited;
}

/** Days from now until the ISO time (a fraction: the process ran a moment ago). */
const daysUntil = (iso: string) => (Date.parse(iso) - Date.now()) / DAY_MS;

describe('hostile: nanobill tokens (CLI, embedded ClickHouse and the running process)', () => {
  let running: { close(): Promise<void> } | undefined;
  let ch: Awaited<ReturnType<typeof testClickHouse>> | undefined;

  beforeAll(async () => {
    // A "running process" holding the second data directory, serving the CLI's socket.
    ch = await testClickHouse(held);
    running = await startQueryServer({
      dataDir: held,
      client: ch.client,
      finance: openFinanceSql({ dataDir: held }),
      writer: ch.client,
      webhookSecrets: () => testWebhookSecrets(ch!.client),
      logger: quietLogger(),
    });
  });

  afterAll(async () => {
    await running?.close();
    await ch?.client.close();
    for (const dir of [direct, held]) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['directly', direct],
    ['through the running process', held],
  ])('creates tokens that expire by default, %s; --no-expiry only when asked', async (_, dir) => {
    const created = await nanobill(dir, ['create', '--org', 'acme']);
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as { expiresAt: string | null };
    expect(token.expiresAt).not.toBeNull();
    expect(daysUntil(token.expiresAt!)).toBeGreaterThan(89.9);
    expect(daysUntil(token.expiresAt!)).toBeLessThanOrEqual(90);
    expect(created.stderr).toContain('NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS=90');

    const forever = await nanobill(dir, ['create', '--router', '--no-expiry']);
    expect(forever.code, forever.stderr).toBe(0);
    expect((JSON.parse(forever.stdout) as { expiresAt: null }).expiresAt).toBeNull();
    expect(forever.stderr).toMatch(/never expires/);

    const both = await nanobill(dir, ['create', '--router', '--no-expiry', '--expires-in', '5']);
    expect(both.code).toBe(2);
  });

  it('takes the default lifetime from NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS', async () => {
    const created = await nanobill(direct, ['create', '--finance'], {
      NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS: '7',
    });
    expect(created.code, created.stderr).toBe(0);
    const { expiresAt } = JSON.parse(created.stdout) as { expiresAt: string };
    expect(daysUntil(expiresAt)).toBeGreaterThan(6.9);
    expect(daysUntil(expiresAt)).toBeLessThanOrEqual(7);
  });

  it.each([
    ['directly', direct],
    ['through the running process', held],
  ])('fails to revoke an id that does not exist (exit 1, says so), %s', async (_, dir) => {
    const unknown = await nanobill(dir, ['revoke', '0123456789ab']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no token with id 0123456789ab');
    expect(unknown.stdout).toBe('');

    const created = await nanobill(dir, ['create', '--router']);
    const { tokenId } = JSON.parse(created.stdout) as { tokenId: string };
    const revoked = await nanobill(dir, ['revoke', tokenId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ revoked: tokenId, alreadyRevoked: false });
    const again = await nanobill(dir, ['revoke', tokenId]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ revoked: tokenId, alreadyRevoked: true });
  });
});
