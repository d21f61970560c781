import { backoffDelayMs, type RetryPolicy } from '@nanobill/retry';
import type { DeliveryOutcome } from '@nanobill/webhooks';

/** One alert to deliver to one URL. */
export interface DeliveryJob {
  alertId: string;
  accountId: string | null;
  type: string;
  url: string;
  body: string;
  /** The number of the next attempt (1 for the first). */
  attempt: number;
  dueAtMs: number;
}

/** An attempt as billing.alert_deliveries records it. */
export interface AttemptRecord {
  job: DeliveryJob;
  attemptedAtMs: number;
  outcome: 'delivered' | 'retrying' | 'abandoned';
  result: DeliveryOutcome;
  nextAttemptAtMs: number | null;
}

/**
 * What happens after an attempt: delivered on 2xx; retried with backoff while the failure may
 * pass (5xx, 408, 429, network) and attempts remain; abandoned otherwise.
 */
export function afterAttempt(
  job: DeliveryJob,
  result: DeliveryOutcome,
  atMs: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): AttemptRecord {
  if (result.ok) {
    return { job, attemptedAtMs: atMs, outcome: 'delivered', result, nextAttemptAtMs: null };
  }
  if (!result.retryable || job.attempt >= policy.maxAttempts) {
    return { job, attemptedAtMs: atMs, outcome: 'abandoned', result, nextAttemptAtMs: null };
  }
  const delay = backoffDelayMs(job.attempt, policy, random);
  return {
    job,
    attemptedAtMs: atMs,
    outcome: 'retrying',
    result,
    // At least one millisecond later: the next attempt is always after this one.
    nextAttemptAtMs: atMs + Math.max(1, delay),
  };
}

/**
 * Deliveries waiting for their next attempt, at most one job per alert id (adding one already
 * queued or in flight is a no-op). `due` hands out the jobs whose time has come, marking them in
 * flight until `settle` says what happened.
 */
export class DeliveryQueue {
  readonly #waiting = new Map<string, DeliveryJob>();
  readonly #inFlight = new Set<string>();

  add(job: DeliveryJob): boolean {
    if (this.#waiting.has(job.alertId) || this.#inFlight.has(job.alertId)) return false;
    this.#waiting.set(job.alertId, job);
    return true;
  }

  due(nowMs: number, limit: number): DeliveryJob[] {
    const jobs: DeliveryJob[] = [];
    for (const job of this.#waiting.values()) {
      if (jobs.length >= limit) break;
      if (job.dueAtMs <= nowMs) jobs.push(job);
    }
    for (const job of jobs) {
      this.#waiting.delete(job.alertId);
      this.#inFlight.add(job.alertId);
    }
    return jobs;
  }

  /** The attempt is recorded: a retry waits again, anything else is done. */
  settle(record: AttemptRecord): void {
    this.#inFlight.delete(record.job.alertId);
    if (record.outcome === 'retrying') {
      this.#waiting.set(record.job.alertId, {
        ...record.job,
        attempt: record.job.attempt + 1,
        dueAtMs: record.nextAttemptAtMs!,
      });
    }
  }

  /** The attempt could not be recorded: tried again later as the same attempt. */
  release(job: DeliveryJob, retryAtMs: number): void {
    this.#inFlight.delete(job.alertId);
    this.#waiting.set(job.alertId, { ...job, dueAtMs: retryAtMs });
  }

  get size(): number {
    return this.#waiting.size + this.#inFlight.size;
  }
}
