import { setTimeout as sleep } from 'node:timers/promises';
import { startLease, type Kafka, type Supervision } from '@nanobill/kafka';
import { Gauge, type Logger, type Registry } from '@nanobill/observability';

/** The one-partition topic whose partition is each singleton's lease (one group per singleton). */
export const LEASE_TOPIC = 'nanobill.leases.v1';
const RETRY_START_MS = 5_000;

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * A service that must run once across all processes (enforcement, alerts) runs only while this
 * process holds its lease; other processes stand by and take over when the holder goes away.
 * Each time the lease is taken the service starts afresh (it rebuilds its state from Kafka and
 * ClickHouse), and its metrics are registered again.
 */
export async function startSingleton(options: {
  name: string;
  kafka: Kafka;
  logger: Logger;
  registry: Registry;
  supervision?: Supervision;
  start(): Promise<Stoppable>;
  retryStartMs?: number;
}): Promise<Stoppable> {
  const { name, logger, registry } = options;
  // One gauge per process, shared by its singletons: which instance is active, for on-call.
  const held =
    (registry.getSingleMetric('nanobill_lease_held') as Gauge<'service'> | undefined) ??
    new Gauge({
      name: 'nanobill_lease_held',
      help: 'Whether this process runs the service (1) or stands by (0), per singleton service',
      labelNames: ['service'] as const,
      registers: [registry],
    });
  held.set({ service: name }, 0);
  const metricNames = () => new Set(registry.getMetricsAsArray().map((m) => m.name));
  const unregister = (names: Iterable<string>) => {
    for (const n of names) registry.removeSingleMetric(n);
  };
  let generation = 0;
  let registered: string[] = [];
  let running: Promise<Stoppable | undefined> = Promise.resolve(undefined);

  return startLease({
    kafka: options.kafka,
    topic: LEASE_TOPIC,
    groupId: `nanobill-${name}-lease`,
    logger,
    supervision: { metrics: registry, ...options.supervision },
    onAcquired: async () => {
      const mine = ++generation;
      // Started in the background: a start that keeps failing must not hold up losing the lease.
      running = (async () => {
        for (let attempt = 1; generation === mine; attempt++) {
          const before = metricNames();
          try {
            const service = await options.start();
            registered = [...metricNames()].filter((n) => !before.has(n));
            held.set({ service: name }, 1);
            logger.info({ service: name }, 'active: this process holds the lease');
            return service;
          } catch (err) {
            unregister([...metricNames()].filter((n) => !before.has(n)));
            logger.error({ err, service: name, attempt }, 'could not start; trying again');
            await sleep(options.retryStartMs ?? RETRY_START_MS);
          }
        }
        return undefined;
      })();
    },
    onLost: async () => {
      generation++;
      held.set({ service: name }, 0);
      const service = await running;
      await service?.stop();
      unregister(registered);
      registered = [];
      logger.info({ service: name }, 'standing by: another process holds the lease');
    },
  });
}
