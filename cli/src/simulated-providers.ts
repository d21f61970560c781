import type { ProviderRegistry } from '@nanobill/providers';
import {
  simulatedModels,
  startProviderSimulator,
  type ProviderSimulator,
} from '@nanobill/provider-simulator';
import { CATALOG, LLM_TASKS, providerModelIdOf, type Provider } from '@nanobill/router-simulator';

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

/**
 * The demo's stand-in for the providers' cost endpoints and price lists: one simulator serving
 * every remote provider of the registry, and the registry pointed at it (tokens through the
 * environment, as in production).
 */
export async function simulateProviders(
  registry: ProviderRegistry,
): Promise<{ registry: ProviderRegistry; simulator: ProviderSimulator }> {
  const token = (name: string) => `sim-token-${name}`;
  const published = publishedModelIds();
  const simulator = await startProviderSimulator({
    providers: Object.fromEntries(
      [...registry.remote.keys()].map((name) => [
        name,
        { token: token(name), models: simulatedModels(name, published[name] ?? []) },
      ]),
    ),
  });
  const remote = new Map(
    [...registry.remote].map(([name, provider]) => {
      process.env[provider.tokenEnv] ??= token(name);
      return [
        name,
        { ...provider, costUrl: simulator.costUrl(name), modelsUrl: simulator.modelsUrl(name) },
      ];
    }),
  );
  return { registry: { ...registry, remote }, simulator };
}
