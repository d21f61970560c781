import { alertIdPart } from '@nanobill/contract';

/** A provider whose cost endpoint has failed for at least the threshold: alert once. */
export interface EndpointFailing {
  provider: string;
  /** When the first failed round of this outage (as seen by this process) started. */
  failingSince: Date;
  failingForMs: number;
  /** Names the outage, not the round: re-sending it for the same outage is recognisable. */
  alertId: string;
}

/** The end of an outage: a round with at least one usable answer after failed ones. */
export interface EndpointRecovered {
  provider: string;
  failingSince: Date;
  failedForMs: number;
  /** Whether this outage had been alerted. */
  alerted: boolean;
}

export interface HealthChange {
  alert?: EndpointFailing;
  recovered?: EndpointRecovered;
}

interface Outage {
  since: Date;
  alerted: boolean;
}

export const DEFAULT_ENDPOINT_FAILING_AFTER_MS = 5 * 60 * 1000;

export function endpointFailingAlertId(provider: string, failingSince: Date): string {
  return `cost_endpoint_failing:${alertIdPart(provider)}:${failingSince.toISOString()}`;
}

/**
 * Per provider: is its cost endpoint failing, since when, and is an alert due. A round is
 * failed for a provider when none of its calls got a usable answer; one usable answer ends the
 * outage. A round that did not call the provider is simply not recorded, so it neither ends an
 * outage nor starts one (pending ids do not disappear while an endpoint fails, so such gaps
 * are rare: a rebalance, or ids turned unpriced at the deadline).
 *
 * The state lives in memory only. After a restart an ongoing outage is detected again from the
 * first failed round of the new process: at most one alert per outage per process lifetime, and
 * a restart during a long outage sends a second alert, with a later `failingSince` in its id,
 * once the threshold has passed again. Persisting it would buy little: the endpoint is asked
 * again within a minute of a restart anyway, and a repeated critical alert is better than a
 * missed one.
 */
export class EndpointHealth {
  readonly #outages = new Map<string, Outage>();

  constructor(readonly failingAfterMs: number = DEFAULT_ENDPOINT_FAILING_AFTER_MS) {
    if (!Number.isFinite(failingAfterMs) || failingAfterMs < 0)
      throw new Error(`failingAfterMs must be a non-negative number, got ${failingAfterMs}`);
  }

  /** One round's verdict for a provider that was called; `at` is when the round started. */
  record(provider: string, failed: boolean, at: Date): HealthChange {
    const outage = this.#outages.get(provider);
    if (!failed) {
      if (!outage) return {};
      this.#outages.delete(provider);
      return {
        recovered: {
          provider,
          failingSince: outage.since,
          failedForMs: at.getTime() - outage.since.getTime(),
          alerted: outage.alerted,
        },
      };
    }
    if (!outage) this.#outages.set(provider, { since: at, alerted: false });
    return this.#due(provider, at);
  }

  isFailing(provider: string): boolean {
    return this.#outages.has(provider);
  }

  failingSince(provider: string): Date | undefined {
    return this.#outages.get(provider)?.since;
  }

  /**
   * The alert could not be sent: it is due again at the next failed round. Only for the same
   * outage; an alert of an outage that has ended since is dropped.
   */
  retryAlert(alert: EndpointFailing): void {
    const outage = this.#outages.get(alert.provider);
    if (outage && outage.since.getTime() === alert.failingSince.getTime()) outage.alerted = false;
  }

  #due(provider: string, at: Date): HealthChange {
    const outage = this.#outages.get(provider)!;
    const failingForMs = at.getTime() - outage.since.getTime();
    if (outage.alerted || failingForMs < this.failingAfterMs) return {};
    outage.alerted = true;
    return {
      alert: {
        provider,
        failingSince: outage.since,
        failingForMs,
        alertId: endpointFailingAlertId(provider, outage.since),
      },
    };
  }
}
