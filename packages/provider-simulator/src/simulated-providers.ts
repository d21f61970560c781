import type { ProviderRegistry, RemoteProvider } from '@nanobill/providers';
import { CATALOG, LLM_TASKS, providerModelIdOf, type Provider } from '@nanobill/router-simulator';
import { simulatedModels } from './providers.js';
import { startProviderSimulator, type ProviderSimulator } from './server.js';

/**
 * The provider model ids the router simulator sends with token usage, per provider: what each
 * simulated provider publishes on `/v1/models`, so spend estimates find a published price. Only
 * LLM tasks, as only their events carry tokens; the provider's own ids, as a real list has.
 */
function publishedModelIds(): Record<string, string[]> {
  const published: Record<string, string[]> = {};
  for (const provider of Object.keys(CATALOG) as Provider[]) {
    const ids = new Set<string>();
    for (const [task, { models }] of Object.entries(CATALOG[provider].tasks)) {
      if (!LLM_TASKS.has(task)) continue;
      for (const model of models) ids.add(providerModelIdOf(provider, model));
    }
    if (ids.size > 0) published[provider] = [...ids];
  }
  return published;
}

/** The token a simulated provider accepts when nothing else is configured. */
export const simulatorToken = (provider: string) => `sim-token-${provider}`;

/**
 * One simulator serving the cost endpoint and the price list (`/v1/models`, the router
 * simulator's models of that provider) of every remote provider of the registry, each accepting
 * `token(provider)`. Used by `nanobill demo` (in-process) and `nanobill simulate providers` (a
 * process of its own).
 */
export function startSimulatedProviders(
  registry: ProviderRegistry,
  options: {
    token: (provider: RemoteProvider) => string;
    port?: number;
    host?: string;
    tls?: { cert: Buffer; key: Buffer };
  },
): Promise<ProviderSimulator> {
  const published = publishedModelIds();
  return startProviderSimulator({
    port: options.port,
    host: options.host,
    tls: options.tls,
    providers: Object.fromEntries(
      [...registry.remote.values()].map((provider) => [
        provider.name,
        {
          token: options.token(provider),
          models: simulatedModels(provider.name, published[provider.name] ?? []),
        },
      ]),
    ),
  });
}

/**
 * The demo's stand-in for the providers' cost endpoints and price lists: one simulator serving
 * every remote provider of the registry, and the registry pointed at it (tokens through the
 * environment, as in production).
 */
export async function simulateProviders(
  registry: ProviderRegistry,
): Promise<{ registry: ProviderRegistry; simulator: ProviderSimulator }> {
  const simulator = await startSimulatedProviders(registry, {
    token: (provider) => simulatorToken(provider.name),
  });
  const remote = new Map(
    [...registry.remote].map(([name, provider]) => {
      process.env[provider.tokenEnv] ??= simulatorToken(name);
      return [
        name,
        { ...provider, costUrl: simulator.costUrl(name), modelsUrl: simulator.modelsUrl(name) },
      ];
    }),
  );
  return { registry: { ...registry, remote }, simulator };
}
