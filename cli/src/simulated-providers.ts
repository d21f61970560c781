import type { ProviderRegistry } from '@nanobill/providers';
import { startProviderSimulator, type ProviderSimulator } from '@nanobill/provider-simulator';

/**
 * The demo's stand-in for the providers' cost endpoints: one simulator serving every remote
 * provider of the registry, and the registry pointed at it (tokens through the environment, as
 * in production).
 */
export async function simulateProviders(
  registry: ProviderRegistry,
): Promise<{ registry: ProviderRegistry; simulator: ProviderSimulator }> {
  const token = (name: string) => `sim-token-${name}`;
  const simulator = await startProviderSimulator({
    providers: Object.fromEntries(
      [...registry.remote.keys()].map((name) => [name, { token: token(name) }]),
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
