import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';
import type { SimulatedProvider } from './server.js';

/**
 * The default providers that host a cost endpoint (all but hf-inference, which nanobill prices
 * itself), each with the token `tokenFor(name)` (default `sim-token-<name>`) and no models.
 */
export function defaultSimulatedProviders(
  tokenFor: (provider: string) => string = (provider) => `sim-token-${provider}`,
): Record<string, SimulatedProvider> {
  const providers: Record<string, SimulatedProvider> = {};
  for (const name of DEFAULT_PROVIDERS) {
    if (name !== HF_INFERENCE) providers[name] = { token: tokenFor(name) };
  }
  return providers;
}
