import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { quietLogger, spawnTs, tempDir } from '@nanobill/testkit';
import { WebhookSecretStore } from '@nanobill/webhooks';
import { startQueryServer, secretsCipher } from '@nanobill/pipeline';

const NANOBILL = fileURLToPath(new URL('../bin/nanobill.js', import.meta.url));
const HOUR_MS = 60 * 60_000;

async function rotate(dataDir: string, args: string[]) {
  const run = await spawnTs(NANOBILL, { ...process.env, NANOBILL_DATA_DIR: dataDir }, [
    'webhooks',
    'rotate-secret',
    ...args,
  ]).exited;
  return { ...run, json: run.code === 0 ? JSON.parse(run.stdout) : undefined };
}

describe('nanobill webhooks rotate-secret (embedded ClickHouse)', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('rotates directly on the data, the key file made 0600; the previous secret overlaps', async () => {
    const dataDir = tempDir();
    const first = await rotate(dataDir, ['--account', 'acme']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toEqual({
      account: 'acme',
      secret: expect.stringMatching(/^nbwhsec_/),
      previousValidUntil: null,
    });
    expect(first.stderr).toContain('shown once');
    expect(statSync(join(dataDir, 'secrets-key')).mode & 0o777).toBe(0o600);

    const before = Date.now();
    const second = await rotate(dataDir, ['--account', 'acme', '--overlap-hours', '2']);
    expect(second.code, second.stderr).toBe(0);
    const until = Date.parse(second.json.previousValidUntil);
    expect(until).toBeGreaterThanOrEqual(before + 2 * HOUR_MS);
    expect(until).toBeLessThanOrEqual(Date.now() + 2 * HOUR_MS);

    const client = openClickHouse({ dataDir });
    try {
      const store = new WebhookSecretStore(
        client,
        secretsCipher(loadConfig({ NANOBILL_DATA_DIR: dataDir })),
      );
      const read = await store.read('acme');
      expect(read?.current.secret).toBe(second.json.secret);
      expect(read?.previous?.secret).toBe(first.json.secret);
    } finally {
      await client.close();
    }
  });

  it('goes through the running process when it holds the data', async () => {
    const dataDir = tempDir();
    const client = openClickHouse({ dataDir });
    cleanup.push(() => client.close());
    await migrate(client);
    const store = new WebhookSecretStore(
      client,
      secretsCipher(loadConfig({ NANOBILL_DATA_DIR: dataDir })),
    );
    const socket = await startQueryServer({
      dataDir,
      client,
      writer: client,
      webhookSecrets: () => store,
      logger: quietLogger(),
    });
    cleanup.push(() => socket.close());
    const rotated = await rotate(dataDir, ['--account', 'globex', '--overlap-hours', '0']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await store.read('globex'))?.current.secret).toBe(rotated.json.secret);
  });

  it.each([
    [[]],
    [['--account', 'acme', '--overlap-hours', '-1']],
    [['--account', 'acme', '--overlap-hours', 'soon']],
    [['--account', 'acme', '--overlap-hours', '100000']],
  ])('refuses bad usage %j with exit code 2', async (args) => {
    const run = await rotate(tempDir(), args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: nanobill webhooks rotate-secret');
  });
});
