import {
  hfInferenceCostNano,
  tokenCostNano,
  type NanoUsd,
  type TokenPricing,
} from '@nanobill/money';
import type { RecentCosts } from './recent-costs.js';

/** Where an estimate came from, best first (a metric label). */
export const ESTIMATE_SOURCES = [
  'hf_compute_time',
  'models_api',
  'providers_file',
  'recent_average',
  'provider_average',
  'none',
] as const;
export type EstimateSource = (typeof ESTIMATE_SOURCES)[number];

/** The facts of a routed request that an estimate can use (the request event's names). */
export interface EstimateRequest {
  provider: string;
  model: string;
  providerModelId?: string;
  usage?: { inputTokens: number; outputTokens: number };
  computeTimeMs?: number;
  hardware?: string;
}

export interface PriceSources {
  /** hf-inference's USD per second for a hardware name, when configured. */
  hardwarePrice(hardware: string): string | number | undefined;
  /** Published per-token prices: the provider's `/v1/models` first, then the providers file. */
  tokenPricing(
    provider: string,
    model: string,
    providerModelId?: string,
  ): { pricing: TokenPricing; source: 'models_api' | 'providers_file' } | undefined;
  recent: RecentCosts;
  /**
   * The most one request may cost at a provider (the providers file's ceilings): pricing never
   * books more, so no estimate is above it either. Absent: no ceiling.
   */
  ceiling?(request: EstimateRequest): NanoUsd | undefined;
}

export interface Estimate {
  nano: NanoUsd;
  source: EstimateSource;
}

/**
 * What a request seen but not yet priced will probably cost (docs/contract.md §6), best source
 * first:
 * - hf-inference: compute time × the hardware price, the very rule pricing applies (exact);
 * - token usage × the published per-token price of the provider and model;
 * - the recent average real cost of that provider and model, then of that provider;
 * - otherwise 0 ('none'): nothing is known yet, the real cost will tell.
 */
export function estimateCost(request: EstimateRequest, sources: PriceSources): Estimate {
  const estimate = uncappedEstimate(request, sources);
  // Tokens × price of a hostile event (2^53 tokens) would be billions of dollars: an estimate is
  // at most the request's ceiling, what pricing could ever book for it.
  const ceiling = sources.ceiling?.(request);
  return ceiling !== undefined && estimate.nano > ceiling
    ? { ...estimate, nano: ceiling }
    : estimate;
}

function uncappedEstimate(request: EstimateRequest, sources: PriceSources): Estimate {
  if (request.computeTimeMs !== undefined && request.hardware !== undefined) {
    const price = sources.hardwarePrice(request.hardware);
    if (price !== undefined) {
      return { nano: hfInferenceCostNano(request.computeTimeMs, price), source: 'hf_compute_time' };
    }
  }
  if (request.usage !== undefined) {
    const published = sources.tokenPricing(
      request.provider,
      request.model,
      request.providerModelId,
    );
    if (published !== undefined) {
      const { inputTokens, outputTokens } = request.usage;
      return {
        nano: tokenCostNano(inputTokens, outputTokens, published.pricing),
        source: published.source,
      };
    }
  }
  const modelAverage = sources.recent.modelAverage(request.provider, request.model);
  if (modelAverage !== undefined) return { nano: modelAverage, source: 'recent_average' };
  const providerAverage = sources.recent.providerAverage(request.provider);
  if (providerAverage !== undefined) return { nano: providerAverage, source: 'provider_average' };
  return { nano: 0n, source: 'none' };
}
