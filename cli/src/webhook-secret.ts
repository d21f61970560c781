import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '@nanobill/config';

/**
 * The alert webhooks' signing secret: NANOBILL_WEBHOOK_SECRET, else the file
 * NANOBILL_WEBHOOK_SECRET_FILE, else (the local stack) a random one created once under the data
 * directory, so that receivers can be set up with a secret that survives restarts.
 */
export function webhookSecret(config: Config): string {
  if (config.webhooks.secret !== undefined) return config.webhooks.secret;
  if (config.webhooks.secretFile !== undefined) {
    return readFileSync(config.webhooks.secretFile, 'utf8').trim();
  }
  const file = join(config.dataDir, 'webhook-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const secret = randomBytes(32).toString('hex');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}
