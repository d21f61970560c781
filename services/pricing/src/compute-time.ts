import { formatUsd, hfInferenceCostNano, type NanoUsd } from '@nanobill/money';
import type { UsdAmount } from '@nanobill/providers';

export type ComputeTimePrice =
  | { ok: true; cost: NanoUsd }
  /** `aboveCeiling`: a cost was computed, and it is too large to book (unpriced and alerted). */
  | { ok: false; reason: string; aboveCeiling: boolean };

/**
 * hf-inference is priced locally: compute time × the hardware's price per second, rounded once,
 * half-up, to the nano-USD (docs/contract.md §4; e.g. 10 s at $0.00012/s = $0.0012). A request
 * billed for more than `maxComputeSeconds` is above the ceiling (that many seconds × the
 * hardware's price): it is not booked. The arithmetic is bigint throughout, so no compute time
 * the contract accepts (up to 2^53 ms) can overflow; the ceiling is what keeps the cost within
 * an Int64 column (checked when the providers file is loaded).
 */
export function priceComputeTime(
  request: { computeTimeMs?: number | null; hardware?: string | null },
  hardwarePrices: ReadonlyMap<string, UsdAmount>,
  maxComputeSeconds: number,
): ComputeTimePrice {
  const { computeTimeMs, hardware } = request;
  if (computeTimeMs === undefined || computeTimeMs === null || !hardware) {
    return {
      ok: false,
      reason: 'hf-inference request without computeTimeMs and hardware',
      aboveCeiling: false,
    };
  }
  const price = hardwarePrices.get(hardware);
  if (price === undefined) {
    return {
      ok: false,
      reason: `no price configured for hardware "${hardware}"`,
      aboveCeiling: false,
    };
  }
  let cost: NanoUsd;
  try {
    cost = hfInferenceCostNano(computeTimeMs, price);
  } catch (error) {
    // Not a count the contract allows (it was validated at ingest): this request only.
    return { ok: false, reason: (error as Error).message, aboveCeiling: false };
  }
  if (computeTimeMs > maxComputeSeconds * 1000) {
    const ceiling = hfInferenceCostNano(maxComputeSeconds * 1000, price);
    return {
      ok: false,
      reason:
        `cost ${formatUsd(cost)} above the ceiling ${formatUsd(ceiling)} ` +
        `(${computeTimeMs} ms of ${hardware}; at most ${maxComputeSeconds} s per request)`,
      aboveCeiling: true,
    };
  }
  return { ok: true, cost };
}
