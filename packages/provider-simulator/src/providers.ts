import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';
import { stableHash64 } from './cost.js';
import type { SimulatedModel, SimulatedProvider } from './server.js';

/**
 * A model's simulated published price in USD per million tokens, fixed by (provider, model id).
 * Whole thousandths only: `n / 1000` prints as the exact 3-decimal text, so the JSON the
 * simulator serves is the decimal a test or a reader expects. Input 0.020–3.000, output 1–4×
 * input, the usual shape of real price lists.
 */
export function simulatedTokenPricing(
  provider: string,
  modelId: string,
): SimulatedModel['pricing'] {
  const h = stableHash64('pricing', provider, modelId);
  const inputMilli = 20n + (h % 2981n);
  const outputMilli = inputMilli * (1n + ((h >> 16n) % 4n));
  return { input: Number(inputMilli) / 1000, output: Number(outputMilli) / 1000 };
}

/** The `/v1/models` entries of a provider publishing these model ids, priced deterministically. */
export function simulatedModels(provider: string, modelIds: Iterable<string>): SimulatedModel[] {
  return [...new Set(modelIds)].map((id) => ({
    id,
    pricing: simulatedTokenPricing(provider, id),
  }));
}

/**
 * The default providers that host a cost endpoint (all but hf-inference, which nanobill prices
 * itself), each with the token `tokenFor(name)` (default `sim-token-<name>`). `models` gives the
 * model ids a provider publishes on `/v1/models` (the caller's catalogue: this package does not
 * know which models the router sends), each priced by `simulatedTokenPricing`; none by default.
 */
export function defaultSimulatedProviders(
  tokenFor: (provider: string) => string = (provider) => `sim-token-${provider}`,
  models: Readonly<Record<string, Iterable<string>>> = {},
): Record<string, SimulatedProvider> {
  const providers: Record<string, SimulatedProvider> = {};
  for (const name of DEFAULT_PROVIDERS) {
    if (name === HF_INFERENCE) continue;
    const ids = models[name];
    providers[name] = {
      token: tokenFor(name),
      ...(ids ? { models: simulatedModels(name, ids) } : {}),
    };
  }
  return providers;
}
