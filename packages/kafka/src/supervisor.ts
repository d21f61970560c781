import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer } from 'kafkajs';
import { Counter, type ComponentHealth, type Logger, type Registry } from '@nanobill/observability';
import { backoffDelayMs } from '@nanobill/retry';

/** The first restart of a stopped consumer comes this long after it stopped… */
export const RESTART_FIRST_DELAY_MS = 1_000;
/** …and each failed attempt doubles the wait, up to this: a broker away for long is tried every minute. */
export const RESTART_MAX_DELAY_MS = 60_000;

const RESTARTS_METRIC = 'nanobill_kafka_consumer_restarts_total';

/** Where a supervised component reports itself, and how it is restarted. */
export interface Supervision {
  /** The process's component health (`/readyz`): unhealthy while the component is down. */
  health?: ComponentHealth;
  /** Where restarts are counted: `nanobill_kafka_consumer_restarts_total{group,by}`. */
  metrics?: Registry;
  /** Restart delays; default `RESTART_FIRST_DELAY_MS` doubling up to `RESTART_MAX_DELAY_MS`. */
  restartDelayMs?: { first: number; max: number };
}

/** What one incarnation of a supervised component tells its supervisor. */
export interface Life {
  /** It works (e.g. its consumer joined the group): healthy again. */
  running(): void;
  /** It works, but is not ready to be relied on yet, and why (e.g. still reading its topic). */
  notReady(reason: string): void;
  /** It crashed and kafkajs restarts it on its own: unhealthy until it runs again. */
  restarting(error: unknown): void;
  /** It stopped for good: the supervisor stops what is left of it and starts a new one. */
  died(error: unknown): void;
  /** Aborted when the supervisor stops: a start that waits (e.g. for the broker) gives up. */
  signal: AbortSignal;
}

export interface Supervised<T> {
  /** The incarnation running now (or the last one, while a new one is being started). */
  current(): T;
  /** Stops restarting, then stops the current incarnation. */
  stop(): Promise<void>;
}

/** What every `startX(options)` returns: a running part that can be stopped (and awaited). */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Capped exponential backoff without jitter: the wait before restart attempt `attempt` (1, 2, …);
 * an attempt below 1 waits `first`, a `first` above `max` waits `max`.
 */
export function restartDelay(attempt: number, first: number, max: number): number {
  return backoffDelayMs(Math.max(attempt, 1), {
    baseDelayMs: Math.min(first, max),
    maxDelayMs: max,
    jitter: 'none',
  });
}

/** `Name: message` of an error, for a readiness reason or a log line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Keeps a component running: `start` makes one incarnation, which reports how it goes through
 * its `Life`. When an incarnation dies (e.g. a Kafka consumer that kafkajs will not restart, such
 * as after "Failed to find group coordinator"), the crash is logged with its error, the
 * component is reported unhealthy with the reason (so `/readyz` answers 503 naming it), what is
 * left of it is stopped, and a new incarnation is started after a capped exponential backoff,
 * each attempt counted; it is healthy again once the new one reports `running`. Nothing is ever
 * left half alive: a component either runs, or is being restarted and says so.
 *
 * A failure of the first start is thrown to the caller, as before supervision.
 */
export async function supervise<T extends Stoppable>(options: {
  /** Its name in `/readyz` and in logs, e.g. `kafka consumer nanobill-ingest`. */
  component: string;
  /** The consumer group it stands for (the restart metric's label). */
  group: string;
  logger: Logger;
  supervision?: Supervision;
  start(life: Life): Promise<T>;
}): Promise<Supervised<T>> {
  const { component, group, logger } = options;
  const health = options.supervision?.health;
  const delays = options.supervision?.restartDelayMs ?? {
    first: RESTART_FIRST_DELAY_MS,
    max: RESTART_MAX_DELAY_MS,
  };
  const count = (by: 'supervisor' | 'kafkajs') =>
    restartsCounter(options.supervision?.metrics)?.inc({ group, by });
  let stopped = false;
  const stopping = new AbortController();
  const stopRequested = new Promise<void>((resolve) =>
    stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
  );

  const launch = async () => {
    let alive = true;
    let die!: (error: unknown) => void;
    const death = new Promise<unknown>((resolve) => (die = resolve));
    const life: Life = {
      running: () => {
        if (alive && !stopped) health?.healthy(component);
      },
      notReady: (reason) => {
        if (alive && !stopped) health?.unhealthy(component, reason);
      },
      restarting: (error) => {
        if (!alive || stopped) return;
        count('kafkajs');
        health?.unhealthy(component, `restarting after ${describeError(error)}`);
        logger.warn({ err: error, component, group }, 'consumer crashed; kafkajs restarts it');
      },
      died: (error) => {
        if (!alive) return;
        alive = false;
        die(error);
      },
      signal: stopping.signal,
    };
    const instance = await options.start(life);
    let stopCall: Promise<void> | undefined;
    const stop = () =>
      (stopCall ??= instance.stop().catch((err: unknown) => {
        logger.warn({ err, component }, 'stopping an incarnation failed');
      }));
    return { instance, death, stop };
  };

  let life = await launch();

  const restartLoop = async () => {
    for (;;) {
      const error = await Promise.race([life.death, stopRequested]);
      if (stopped) return;
      health?.unhealthy(component, `stopped by ${describeError(error)}; restarting`);
      logger.error(
        { err: error, component, group },
        'consumer stopped (kafkajs does not restart it, or its owner restarts it whole); restarting it',
      );
      await life.stop();
      for (let attempt = 1; ; attempt++) {
        await sleep(restartDelay(attempt, delays.first, delays.max), undefined, {
          signal: stopping.signal,
        }).catch(() => undefined); // cut short by stop()
        if (stopped) return;
        count('supervisor');
        try {
          life = await launch();
          logger.info({ component, group, attempt }, 'restarted');
          break;
        } catch (err) {
          health?.unhealthy(
            component,
            `stopped; restart attempt ${attempt} failed: ${describeError(err)}`,
          );
          logger.error({ err, component, group, attempt }, 'restart failed; trying again');
        }
      }
    }
  };
  const loop = restartLoop().catch((err: unknown) => {
    // Not expected (every step above catches); said loudly rather than lost.
    health?.unhealthy(component, `supervisor failed: ${describeError(err)}`);
    logger.fatal({ err, component, group }, 'supervisor failed');
  });

  return {
    current: () => life.instance,
    async stop() {
      stopped = true;
      stopping.abort();
      await loop;
      await life.stop();
      health?.healthy(component);
    },
  };
}

/** Reports a kafkajs consumer's joins and crashes to its supervisor. */
export function reportTo(
  consumer: Consumer,
  life: Life,
  crashes: 'kafkajs restarts retriable ones' | 'every crash ends it',
): void {
  consumer.on(consumer.events.GROUP_JOIN, () => life.running());
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart && crashes === 'kafkajs restarts retriable ones') {
      life.restarting(payload.error);
    } else {
      life.died(payload.error);
    }
  });
}

/**
 * Connects and subscribes; a failure disconnects what was connected, since a restart may try
 * many times while the broker is away.
 */
export async function connectAndSubscribe(
  consumer: Consumer,
  topic: string,
  fromBeginning: boolean,
): Promise<void> {
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw error;
  }
}

/** One counter per registry, found again if a singleton's restart unregistered it. */
function restartsCounter(registry: Registry | undefined): Counter<'group' | 'by'> | undefined {
  if (registry === undefined) return undefined;
  return (
    (registry.getSingleMetric(RESTARTS_METRIC) as Counter<'group' | 'by'> | undefined) ??
    new Counter({
      name: RESTARTS_METRIC,
      help: 'Restarts of Kafka consumers, per group, by who restarted them (kafkajs on a retriable crash, the supervisor otherwise)',
      labelNames: ['group', 'by'] as const,
      registers: [registry],
    })
  );
}
