import { readFileSync } from 'node:fs';
import type { RemoteProvider } from './registry.js';

/**
 * The provider's bearer token, read when needed so a rotated secret file is picked up. Errors
 * name where the token should be, never what it is.
 */
export function providerToken(
  provider: RemoteProvider,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (provider.tokenFile) {
    try {
      const token = readFileSync(provider.tokenFile, 'utf8').trim();
      if (token) return token;
    } catch {
      // reported below, without the file's contents
    }
    throw new Error(
      `the token file of ${provider.name} (${provider.tokenFile}) is missing or empty`,
    );
  }
  const token = env[provider.tokenEnv];
  if (!token) throw new Error(`the token of ${provider.name} is missing: set ${provider.tokenEnv}`);
  return token;
}
