import { z } from 'zod';
import { formatUsd, parseNanoUsd, type NanoUsd } from '@nanobill/money';

const CostAnswer = z.object({
  requests: z.array(z.object({ requestId: z.string(), costNanoUsd: z.unknown() })),
});

/** What one cost-endpoint answer says about the ids that were asked. */
export interface AnswerReport {
  costs: Map<string, NanoUsd>;
  /** Asked ids the answer gave no usable cost for, with the reason (they stay pending). */
  problems: Map<string, string>;
  /**
   * Asked ids whose cost is above the provider's ceiling, with the reason: never booked, they
   * are unpriced at once (`cost $X above the ceiling $Y`).
   */
  aboveCeiling: Map<string, string>;
  /** Asked ids the answer left out (asked again next minute). */
  leftOut: string[];
  unknownIds: number;
  duplicates: number;
}

/**
 * Checks an answer against the ids asked. Costs must be non-negative safe JSON integers
 * (docs/contract.md §3: an integer number of nano-USD); anything else quarantines that id for
 * this round with the reason. An id answered twice with two different costs is not trusted.
 * A cost above `maxCostNanoUsd` (an integer JSON number, however large) is never a cost to
 * book: the id is reported in `aboveCeiling`.
 */
export function readAnswer(
  body: unknown,
  asked: readonly string[],
  maxCostNanoUsd: NanoUsd,
): { ok: true; report: AnswerReport } | { ok: false; reason: string } {
  const parsed = CostAnswer.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: `answer does not match {requests: [{requestId, costNanoUsd}]}: ${issue?.path.join('.')} ${issue?.message}`,
    };
  }
  const wanted = new Set(asked);
  const report: AnswerReport = {
    costs: new Map(),
    problems: new Map(),
    aboveCeiling: new Map(),
    leftOut: [],
    unknownIds: 0,
    duplicates: 0,
  };
  const conflicting = new Set<string>();
  for (const { requestId, costNanoUsd } of parsed.data.requests) {
    if (!wanted.has(requestId)) {
      report.unknownIds++;
      continue;
    }
    const cost = parseNanoUsd(costNanoUsd, { allowString: false });
    const huge = aboveCeiling(costNanoUsd, maxCostNanoUsd);
    const seen =
      report.costs.get(requestId) ??
      (report.problems.has(requestId) || report.aboveCeiling.has(requestId) ? null : undefined);
    if (seen !== undefined) {
      report.duplicates++;
      if (seen === null || !cost.ok || cost.value !== seen) conflicting.add(requestId);
      continue;
    }
    if (huge !== undefined) {
      report.aboveCeiling.set(
        requestId,
        `cost ${formatUsd(huge)} above the ceiling ${formatUsd(maxCostNanoUsd)}`,
      );
    } else if (cost.ok) report.costs.set(requestId, cost.value);
    else report.problems.set(requestId, `invalid cost: ${cost.reason}`);
  }
  for (const id of conflicting) {
    report.costs.delete(id);
    report.aboveCeiling.delete(id);
    report.problems.set(id, 'answered twice with different costs');
  }
  for (const id of asked) {
    if (!report.costs.has(id) && !report.problems.has(id) && !report.aboveCeiling.has(id)) {
      report.leftOut.push(id);
    }
  }
  return { ok: true, report };
}

/**
 * The cost when it is an integer JSON number above the ceiling, exactly as the number reads
 * (above 2^53 a JSON number is no longer the integer that was written, but any integer it can
 * be is still above a ceiling below 2^53, and the amount shown is the one received).
 */
function aboveCeiling(value: unknown, ceiling: NanoUsd): NanoUsd | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return undefined;
  const cost = BigInt(value); // exact: an integer double is an integer
  return cost > ceiling ? cost : undefined;
}
