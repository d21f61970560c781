/**
 * How the delay is drawn around the exponential step `base·2^(retry-1)`:
 * - `full`: uniform in [0, min(max, step)) — receivers recovering from an outage are not hit by
 *   every sender at the same instant (webhook deliveries);
 * - `centred`: uniform in [step/2, 3·step/2), then capped at max — about the step on average, so
 *   a round's retries stay close to the schedule it was sized for (cost calls);
 * - `none`: the capped step itself — one process restarting its own part, no herd to spread
 *   (supervised consumers, lease rejoins, pending loads).
 */
export type Jitter = 'full' | 'centred' | 'none';

export interface BackoffPolicy {
  /** The first retry's exponential step; it doubles with each further retry. */
  baseDelayMs: number;
  /** No delay ever exceeds this, however many retries. */
  maxDelayMs: number;
  /** Default `full`. */
  jitter?: Jitter;
}

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts in all, the first included (1: no retry). */
  maxAttempts: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry): capped exponential backoff with
 * jitter, always within [0, maxDelayMs]. Whole milliseconds; `random` is injectable for tests.
 */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const { baseDelayMs, maxDelayMs, jitter = 'full' } = policy;
  if (!Number.isSafeInteger(retry) || retry < 1)
    throw new RangeError(`retry must be an integer ≥ 1, got ${retry}`);
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0)
    throw new RangeError(`baseDelayMs must be a finite number ≥ 0, got ${baseDelayMs}`);
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < baseDelayMs)
    throw new RangeError(`maxDelayMs must be finite and ≥ baseDelayMs, got ${maxDelayMs}`);
  const draw = random();
  if (!(draw >= 0 && draw < 1)) throw new RangeError(`random() must be in [0, 1), got ${draw}`);
  // 2 ** retry overflows to Infinity for large retries, and 0 · Infinity is NaN.
  const step = baseDelayMs === 0 ? 0 : baseDelayMs * 2 ** (retry - 1);
  return Math.floor(jittered(step, draw, maxDelayMs, jitter));
}

function jittered(step: number, draw: number, maxDelayMs: number, jitter: Jitter): number {
  switch (jitter) {
    case 'full':
      return draw * Math.min(maxDelayMs, step);
    case 'centred':
      return Math.min(maxDelayMs, step * (0.5 + draw));
    case 'none':
      return Math.min(maxDelayMs, step);
  }
}
