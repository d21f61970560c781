import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeError,
  LEASE_TOPIC,
  restartDelay,
  startLease,
  type Kafka,
  type Lease,
  type Stoppable,
  type Supervision,
} from '@nanobill/kafka';
import { Counter, Gauge, type Logger, type Registry } from '@nanobill/observability';

/** While this process holds the lease, a start that failed is tried again this long after. */
export const RETRY_START_MS = 5_000;
/**
 * After this many starts in a row failed, the holder gives the lease up: a standby (whose host
 * may reach what this one cannot) runs the service rather than nobody.
 */
export const MAX_FAILED_STARTS = 5;
/** A holder that gave the lease up competes for it again this long after (longer than a rebalance)… */
export const REJOIN_FIRST_DELAY_MS = 10_000;
/** …doubling each time it gives it up again, up to this; reset once its service starts. */
export const REJOIN_MAX_DELAY_MS = 60_000;

export interface SingletonOptions {
  /** The service's name: its `/readyz` entry, and its lease group's by default. */
  name: string;
  /** The lease topic. Default `LEASE_TOPIC`. */
  topic?: string;
  /** The lease group. Default `nanobill-<name>-lease`. */
  groupId?: string;
  kafka: Kafka;
  logger: Logger;
  registry: Registry;
  supervision?: Supervision;
  start(): Promise<Stoppable>;
  /** Default `RETRY_START_MS`. */
  retryStartMs?: number;
  /** Default `MAX_FAILED_STARTS`. */
  maxFailedStarts?: number;
  /** Default `REJOIN_FIRST_DELAY_MS` doubling up to `REJOIN_MAX_DELAY_MS`. */
  rejoinDelayMs?: { first: number; max: number };
}

/**
 * A service that must run once across all processes (enforcement, alerts, statements) runs only while this
 * process holds its lease; other processes stand by (ready: that is their normal state) and take
 * over when the holder goes away. Each time the lease is taken the service starts afresh (it
 * rebuilds its state from Kafka and ClickHouse), and its metrics are registered again.
 *
 * A holder whose service is not running is never silent: while it starts, or fails to start and
 * tries again, `/readyz` names the service with the reason. After `maxFailedStarts` failed starts
 * in a row it gives the lease up (leaves the group, so a standby takes it at once), stays not
 * ready meanwhile, and competes for the lease again after a capped backoff.
 */
export async function startSingleton(options: SingletonOptions): Promise<Stoppable> {
  const singleton = new Singleton(options);
  await singleton.join();
  return { stop: () => singleton.stop() };
}

/** How one holding of the lease ended its attempts to start the service. */
type StartOutcome =
  | { started: Stoppable }
  | { gaveUp: unknown; failures: number }
  /** The lease was lost (or the singleton stopped) first. */
  | undefined;

class Singleton {
  readonly #options: SingletonOptions;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #held: Gauge<'service'>;
  readonly #failedStarts: Counter<'service'>;
  #lease: Lease | undefined;
  /** In the lease group (holding or standing by), not out of it after giving the lease up. */
  #inGroup = false;
  /** Counts holdings of the lease: a start belongs to the holding it began in. */
  #generation = 0;
  /** Aborted when the current holding ends: a start waiting to be tried again gives up. */
  #holding = new AbortController();
  #service: Promise<Stoppable | undefined> = Promise.resolve(undefined);
  #registered: string[] = [];
  /** Times in a row the lease was given up (the rejoin backoff); reset once the service starts. */
  #surrenders = 0;
  #rejoining: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #stopping = new AbortController();

  constructor(options: SingletonOptions) {
    this.#options = options;
    this.#name = options.name;
    this.#logger = options.logger;
    this.#held = heldGauge(options.registry);
    this.#failedStarts = failedStartsCounter(options.registry);
    this.#held.set({ service: this.#name }, 0);
  }

  get #health() {
    return this.#options.supervision?.health;
  }

  async join(): Promise<void> {
    const { kafka, registry, supervision } = this.#options;
    this.#inGroup = true;
    try {
      this.#lease = await startLease({
        kafka,
        topic: this.#options.topic ?? LEASE_TOPIC,
        groupId: this.#options.groupId ?? `nanobill-${this.#name}-lease`,
        logger: this.#logger,
        supervision: { metrics: registry, ...supervision },
        onAcquired: async () => this.#acquired(),
        onLost: async () => this.#lost(),
      });
    } catch (error) {
      this.#inGroup = false;
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    await this.#rejoining;
    await this.#leaveGroup();
    this.#health?.healthy(this.#name); // gone: nothing left to report
  }

  #acquired(): void {
    const mine = ++this.#generation;
    this.#holding = new AbortController();
    this.#held.set({ service: this.#name }, 1);
    this.#health?.unhealthy(this.#name, 'holds the lease, starting the service');
    // In the background: a start that keeps failing must not hold up losing the lease.
    const outcome = this.#startWithRetries(mine, this.#holding.signal);
    this.#service = outcome.then((o) => (o && 'started' in o ? o.started : undefined));
    void outcome.then((o) => {
      if (o && 'gaveUp' in o && this.#generation === mine && !this.#stopped) {
        this.#rejoining = this.#giveUp(o.gaveUp, o.failures);
      }
    });
  }

  async #startWithRetries(mine: number, holding: AbortSignal): Promise<StartOutcome> {
    const maxFailures = this.#options.maxFailedStarts ?? MAX_FAILED_STARTS;
    const registry = this.#options.registry;
    for (let failures = 0; this.#generation === mine;) {
      const before = metricNames(registry);
      try {
        const service = await this.#options.start();
        this.#registered = newMetrics(registry, before);
        // Lost meanwhile: `#lost` stops it, and reports for itself.
        if (this.#generation === mine) {
          this.#surrenders = 0;
          this.#health?.healthy(this.#name);
          this.#logger.info({ service: this.#name }, 'active: this process holds the lease');
        }
        return { started: service };
      } catch (err) {
        unregister(registry, newMetrics(registry, before));
        failures++;
        this.#failedStarts.inc({ service: this.#name });
        this.#logger.error({ err, service: this.#name, failures }, 'could not start');
        if (failures >= maxFailures) return { gaveUp: err, failures };
        if (this.#generation === mine) {
          this.#health?.unhealthy(
            this.#name,
            `holds the lease, start failed ${failures} ${failures === 1 ? 'time' : 'times'}: ${describeError(err)}; retrying`,
          );
        }
        await sleep(this.#options.retryStartMs ?? RETRY_START_MS, undefined, {
          signal: holding,
        }).catch(() => undefined); // cut short: the lease is lost, or the singleton stops
      }
    }
    return undefined;
  }

  async #lost(): Promise<void> {
    this.#generation++;
    this.#holding.abort();
    this.#held.set({ service: this.#name }, 0);
    try {
      const service = await this.#service;
      await service?.stop();
    } finally {
      unregister(this.#options.registry, this.#registered);
      this.#registered = [];
      // A standby is ready; one that left the group after giving the lease up says so itself.
      if (this.#inGroup) this.#health?.healthy(this.#name);
      this.#logger.info(
        { service: this.#name },
        'standing by: this process does not hold the lease',
      );
    }
  }

  /** Leaves the group so that a standby takes the lease, then competes for it again later. */
  async #giveUp(error: unknown, failures: number): Promise<void> {
    this.#surrenders++;
    const { first, max } = this.#options.rejoinDelayMs ?? {
      first: REJOIN_FIRST_DELAY_MS,
      max: REJOIN_MAX_DELAY_MS,
    };
    const delayMs = restartDelay(this.#surrenders, first, max);
    this.#health?.unhealthy(
      this.#name,
      `gave up the lease after ${failures} failed starts (last: ${describeError(error)}); competing for it again in ${seconds(delayMs)}`,
    );
    this.#logger.error(
      { err: error, service: this.#name, failures, rejoinInMs: delayMs },
      'the service does not start: giving up the lease so that a standby runs it',
    );
    await this.#leaveGroup();
    await this.#pause(delayMs);
    await this.#rejoin();
  }

  async #leaveGroup(): Promise<void> {
    this.#inGroup = false;
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.stop();
  }

  /** Back in the group, as a standby until it is handed the lease; a failed join is retried. */
  async #rejoin(): Promise<void> {
    const { first, max } = this.#options.rejoinDelayMs ?? {
      first: REJOIN_FIRST_DELAY_MS,
      max: REJOIN_MAX_DELAY_MS,
    };
    for (let attempt = 1; !this.#stopped; attempt++) {
      // Before joining: once in, being handed the lease reports the service as starting.
      this.#health?.healthy(this.#name);
      try {
        await this.join();
        return;
      } catch (err) {
        const delayMs = restartDelay(attempt, first, max);
        this.#health?.unhealthy(
          this.#name,
          `out of the lease group: joining failed: ${describeError(err)}; trying again in ${seconds(delayMs)}`,
        );
        this.#logger.error(
          { err, service: this.#name, attempt },
          'could not rejoin the lease group',
        );
        await this.#pause(delayMs);
      }
    }
  }

  /** Waits, cut short by stop(). */
  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function metricNames(registry: Registry): Set<string> {
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
}

function newMetrics(registry: Registry, before: ReadonlySet<string>): string[] {
  return [...metricNames(registry)].filter((n) => !before.has(n));
}

function unregister(registry: Registry, names: Iterable<string>): void {
  for (const n of names) registry.removeSingleMetric(n);
}

/** One gauge per process, shared by its singletons: which instance holds each lease, for on-call. */
function heldGauge(registry: Registry): Gauge<'service'> {
  return (
    (registry.getSingleMetric('nanobill_lease_held') as Gauge<'service'> | undefined) ??
    new Gauge({
      name: 'nanobill_lease_held',
      help: 'Whether this process holds the lease of a singleton service (1: it runs it, or is starting it; /readyz says which) or not (0), per service',
      labelNames: ['service'] as const,
      registers: [registry],
    })
  );
}

function failedStartsCounter(registry: Registry): Counter<'service'> {
  return (
    (registry.getSingleMetric('nanobill_singleton_failed_starts_total') as
      Counter<'service'> | undefined) ??
    new Counter({
      name: 'nanobill_singleton_failed_starts_total',
      help: 'Starts of a singleton service that failed while this process held its lease, per service',
      labelNames: ['service'] as const,
      registers: [registry],
    })
  );
}
