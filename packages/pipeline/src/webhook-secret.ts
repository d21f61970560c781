import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { localSecret, type Config } from '@nanobill/config';
import { generateSecretsKey, parseSecretsKey, SecretsCipher } from '@nanobill/webhooks';

/**
 * The operations webhook's signing secret: NANOBILL_OPS_WEBHOOK_SECRET, else the file
 * NANOBILL_OPS_WEBHOOK_SECRET_FILE, else (the local stack) a random one created once under the
 * data directory, so that on-call's receiver can be set up with a secret that survives restarts.
 */
export function opsWebhookSecret(config: Config): string {
  const { opsSecret, opsSecretFile } = config.webhooks;
  if (opsSecret !== undefined) return opsSecret;
  if (opsSecretFile !== undefined) return readFileSync(opsSecretFile, 'utf8').trim();
  return localSecret(config.dataDir, 'ops-webhook-secret', () => randomBytes(32).toString('hex'));
}

/**
 * The cipher of stored secrets (each account's webhook secrets), under NANOBILL_SECRETS_KEY, else
 * the file NANOBILL_SECRETS_KEY_FILE, else (the local stack) a key created once under the data
 * directory. Every process that reads or rotates secrets (api, alerts, the CLI) needs the same
 * key: a deployment of several processes gives it to each (a mounted secret).
 */
export function secretsCipher(config: Config): SecretsCipher {
  const { key, file } = config.secretsKey;
  const text =
    key ??
    (file !== undefined
      ? readFileSync(file, 'utf8')
      : localSecret(config.dataDir, 'secrets-key', generateSecretsKey));
  try {
    return new SecretsCipher(parseSecretsKey(text));
  } catch (error) {
    const source = key !== undefined ? 'NANOBILL_SECRETS_KEY' : (file ?? 'the local secrets key');
    throw new Error(`${source}: ${(error as Error).message}`, { cause: error });
  }
}
