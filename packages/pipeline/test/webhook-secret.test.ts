import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, localSecret } from '@nanobill/config';
import { tempDir } from '@nanobill/testkit';
import { opsWebhookSecret, secretsCipher } from '../src/webhook-secret.js';

describe('local secrets under the data directory', () => {
  it('are created once, readable by the owner only (0600)', () => {
    const dataDir = join(tempDir(), 'data');
    const config = loadConfig({ NANOBILL_DATA_DIR: dataDir });
    const cipher = secretsCipher(config);
    const ops = opsWebhookSecret(config);
    for (const name of ['secrets-key', 'ops-webhook-secret']) {
      expect(statSync(join(dataDir, name)).mode & 0o777, name).toBe(0o600);
    }
    // The data directory they made is private too (in server mode nothing else creates it).
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // The same ones at the next start.
    expect(secretsCipher(config).keyId).toBe(cipher.keyId);
    expect(opsWebhookSecret(config)).toBe(ops);
    expect(readFileSync(join(dataDir, 'secrets-key'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    // No draft left behind.
    expect(readdirSync(dataDir).sort()).toEqual(['ops-webhook-secret', 'secrets-key']);
  });

  it('are made once: every later maker reads the first one', () => {
    const dataDir = tempDir();
    let n = 0;
    const made = Array.from({ length: 20 }, () =>
      localSecret(dataDir, 'race', () => `secret-${n++}`),
    );
    expect(new Set(made)).toEqual(new Set(['secret-0']));
  });

  it('come from the environment or a file when configured, and a bad key names its source', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'key');
    const key = 'cd'.repeat(32);
    writeFileSync(keyFile, `${key}\n`);
    const fromFile = secretsCipher(loadConfig({ NANOBILL_SECRETS_KEY_FILE: keyFile }));
    const fromEnv = secretsCipher(loadConfig({ NANOBILL_SECRETS_KEY: key }));
    expect(fromFile.keyId).toBe(fromEnv.keyId);
    writeFileSync(keyFile, 'not a key\n');
    expect(() => secretsCipher(loadConfig({ NANOBILL_SECRETS_KEY_FILE: keyFile }))).toThrow(
      keyFile,
    );
    expect(
      opsWebhookSecret(loadConfig({ NANOBILL_OPS_WEBHOOK_SECRET: 'ops-secret-0123456789' })),
    ).toBe('ops-secret-0123456789');
  });
});
