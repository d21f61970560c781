import { HF_INFERENCE } from '@nanobill/contract';
import { RecentCosts, type PriceSources } from '@nanobill/enforcement';
import { hfInferenceCostNano } from '@nanobill/money';
import type { Logger } from '@nanobill/observability';
import { ModelPriceBook, type ProviderRegistry } from '@nanobill/providers';

/** Where estimates take their prices from, and how the published ones are fetched again. */
export interface Prices {
  sources: PriceSources;
  /** Costs the ledger recorded lately (a fallback estimate), fed as rows are followed. */
  recent: RecentCosts;
  /** Fetches the providers' published prices again; a failure keeps the last good ones. */
  refresh(): Promise<void>;
}

/** The price sources of estimates, their published prices fetched once before it returns. */
export async function loadPrices(
  providers: ProviderRegistry,
  logger: Logger,
  priceBook: ModelPriceBook = new ModelPriceBook(providers),
): Promise<Prices> {
  const recent = new RecentCosts();
  const refresh = async () => {
    const report = await priceBook.refresh();
    const failed = Object.entries(report).filter(([, r]) => r.error !== undefined);
    if (failed.length > 0) {
      logger.warn(
        { providers: Object.fromEntries(failed.map(([name, r]) => [name, r.error])) },
        'published prices not refreshed; the last good ones (or the providers file) are used',
      );
    }
  };
  await refresh();
  const sources: PriceSources = {
    hardwarePrice: (hardware) => providers.hardware.get(hardware),
    tokenPricing: (provider, model, providerModelId) =>
      priceBook.priceFor(provider, model, providerModelId),
    recent,
    ceiling: (request) => requestCeiling(providers, request),
  };
  return { sources, recent, refresh };
}

/** The most pricing would book for a request (its provider's ceiling), as estimates are capped. */
function requestCeiling(
  providers: ProviderRegistry,
  request: { provider: string; hardware?: string },
): bigint | undefined {
  if (request.provider !== HF_INFERENCE)
    return providers.remote.get(request.provider)?.maxCostNanoUsd;
  const price =
    request.hardware === undefined ? undefined : providers.hardware.get(request.hardware);
  return price === undefined
    ? undefined
    : hfInferenceCostNano(providers.maxComputeSeconds * 1000, price);
}
