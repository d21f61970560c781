export interface BackoffPolicy {
  /** The ceiling of the first retry's delay; it doubles with each further retry. */
  baseDelayMs: number;
  /** No delay ever exceeds this, however many retries. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): "full jitter", a uniform draw in
 * [0, min(max, base·2^(attempt-1))), so that receivers recovering from an outage are not hit by
 * every sender at the same instant. Whole milliseconds; `random` is injectable for tests.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const { baseDelayMs, maxDelayMs } = policy;
  if (!Number.isSafeInteger(attempt) || attempt < 1)
    throw new RangeError(`attempt must be an integer ≥ 1, got ${attempt}`);
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0)
    throw new RangeError(`baseDelayMs must be a finite number ≥ 0, got ${baseDelayMs}`);
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < baseDelayMs)
    throw new RangeError(`maxDelayMs must be finite and ≥ baseDelayMs, got ${maxDelayMs}`);
  const draw = random();
  if (!(draw >= 0 && draw < 1)) throw new RangeError(`random() must be in [0, 1), got ${draw}`);
  // 2 ** attempt overflows to Infinity for large attempts, and 0 · Infinity is NaN.
  const ceiling = baseDelayMs === 0 ? 0 : Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(draw * ceiling);
}
