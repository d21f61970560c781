import { hfInferenceCostNano, type NanoUsd } from '@nanobill/money';
import type { UsdAmount } from '@nanobill/providers';

/**
 * hf-inference is priced locally: compute time × the hardware's price per second, rounded once,
 * half-up, to the nano-USD (PRODUCT.md §4; the seed: 10 s at $0.00012/s = $0.0012).
 */
export function priceComputeTime(
  request: { computeTimeMs?: number | null; hardware?: string | null },
  hardwarePrices: ReadonlyMap<string, UsdAmount>,
): { ok: true; cost: NanoUsd } | { ok: false; reason: string } {
  const { computeTimeMs, hardware } = request;
  if (computeTimeMs === undefined || computeTimeMs === null || !hardware) {
    return { ok: false, reason: 'hf-inference request without computeTimeMs and hardware' };
  }
  const price = hardwarePrices.get(hardware);
  if (price === undefined)
    return { ok: false, reason: `no price configured for hardware "${hardware}"` };
  return { ok: true, cost: hfInferenceCostNano(computeTimeMs, price) };
}
