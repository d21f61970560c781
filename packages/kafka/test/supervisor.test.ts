import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ComponentHealth, createMetricsRegistry, type Registry } from '@nanobill/observability';
import { quietLogger, waitFor } from '@nanobill/testkit';
import {
  RESTART_FIRST_DELAY_MS,
  RESTART_MAX_DELAY_MS,
  restartDelay,
  supervise,
  type Life,
} from '../src/index.js';

/** A fake incarnation: records its life and whether it was stopped. */
interface Fake {
  id: number;
  life: Life;
  stops: number;
  stop(): Promise<void>;
}

function fakes(options: { failStarts?: number; dieDuringStart?: boolean } = {}) {
  const started: Fake[] = [];
  let failures = options.failStarts ?? 0;
  return {
    started,
    start: async (life: Life): Promise<Fake> => {
      if (started.length > 0 && failures > 0) {
        failures--;
        throw new Error('broker still away');
      }
      const fake: Fake = {
        id: started.length + 1,
        life,
        stops: 0,
        stop: async () => void fake.stops++,
      };
      started.push(fake);
      if (options.dieDuringStart && fake.id === 1) life.died(new Error('died while starting'));
      return fake;
    },
  };
}

async function restarts(registry: Registry, by: string): Promise<number> {
  const metric = await registry.getSingleMetric('nanobill_kafka_consumer_restarts_total')?.get();
  return metric?.values.find((v) => v.labels.by === by && v.labels.group === 'g')?.value ?? 0;
}

const quick = { first: 1, max: 4 };

/** `supervise` over fakes, quick restarts, with a health and a metrics registry to look at. */
async function superviseFakes(options: Parameters<typeof fakes>[0] = {}, component = 'c') {
  const health = new ComponentHealth();
  const metrics = createMetricsRegistry();
  const f = fakes(options);
  const supervised = await supervise({
    component,
    group: 'g',
    logger: quietLogger(),
    supervision: { health, metrics, restartDelayMs: quick },
    start: f.start,
  });
  return { health, metrics, f, supervised };
}

describe('supervise: a component that stops for good is restarted, reported and counted', () => {
  it('restart delays double from the first up to the cap, never above it', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => restartDelay(n, 1_000, 60_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000,
    ]);
    expect(restartDelay(1, RESTART_FIRST_DELAY_MS, RESTART_MAX_DELAY_MS)).toBe(1_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (attempt) => {
        const delay = restartDelay(attempt, RESTART_FIRST_DELAY_MS, RESTART_MAX_DELAY_MS);
        const next = restartDelay(attempt + 1, RESTART_FIRST_DELAY_MS, RESTART_MAX_DELAY_MS);
        return delay >= RESTART_FIRST_DELAY_MS && next >= delay && next <= RESTART_MAX_DELAY_MS;
      }),
    );
  });

  it('restart delays through the shared backoff are the former ones, for any whole-ms settings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        (attempt, first, max) => {
          const former = Math.min(max, first * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
          return restartDelay(attempt, first, max) === former;
        },
      ),
    );
  });

  it('a dead incarnation: not ready with the reason, stopped, a new one started and counted', async () => {
    const { health, metrics, f, supervised } = await superviseFakes({}, 'kafka consumer g');
    expect(health.problems()).toEqual([]);

    f.started[0]!.life.died(new Error('Failed to find group coordinator'));
    await waitFor('a second incarnation', async () => f.started[1]);
    expect(f.started[0]!.stops).toBe(1);
    expect(supervised.current()).toBe(f.started[1]);
    // Started, not running yet: still not ready, and the reason says why.
    const [[component, reason]] = health.problems() as [[string, string]];
    expect(component).toBe('kafka consumer g');
    expect(reason).toContain('Failed to find group coordinator');
    expect(await restarts(metrics, 'supervisor')).toBe(1);

    // The dead one's late signals change nothing.
    f.started[0]!.life.running();
    expect(health.problems()).toHaveLength(1);
    f.started[1]!.life.running();
    expect(health.problems()).toEqual([]);

    await supervised.stop();
    expect(f.started[1]!.stops).toBe(1);
    expect(f.started).toHaveLength(2);
  });

  it('failed restarts are retried, each counted and named in the reason, until one starts', async () => {
    const { health, metrics, f, supervised } = await superviseFakes({ failStarts: 3 });
    f.started[0]!.life.died(new Error('gone'));
    await waitFor('a restart that works', async () => f.started[1]);
    expect(await restarts(metrics, 'supervisor')).toBe(4);
    expect(health.problems()[0]![1]).toContain('restart attempt 3 failed');
    f.started[1]!.life.running();
    expect(health.problems()).toEqual([]);
    await supervised.stop();
  });

  it('a death during the start is acted on once the start returns', async () => {
    const { f, supervised } = await superviseFakes({ dieDuringStart: true });
    await waitFor('the restart', async () => f.started[1]);
    expect(f.started[0]!.stops).toBe(1);
    await supervised.stop();
  });

  it('kafkajs restarting it: not ready until it runs, counted apart, no second incarnation', async () => {
    const { health, metrics, f, supervised } = await superviseFakes();
    f.started[0]!.life.restarting(new Error('Connection error'));
    expect(health.problems()[0]![1]).toContain('Connection error');
    expect(await restarts(metrics, 'kafkajs')).toBe(1);
    f.started[0]!.life.running();
    expect(health.problems()).toEqual([]);
    expect(f.started).toHaveLength(1);
    await supervised.stop();
  });

  it('stop() during the backoff: no new incarnation, the dead one stopped once, health cleared', async () => {
    const health = new ComponentHealth();
    const f = fakes();
    const supervised = await supervise({
      component: 'c',
      group: 'g',
      logger: quietLogger(),
      supervision: { health, restartDelayMs: { first: 60_000, max: 60_000 } },
      start: f.start,
    });
    f.started[0]!.life.died(new Error('gone'));
    await waitFor('the dead one stopped', async () => (f.started[0]!.stops > 0 ? true : undefined));
    expect(health.problems()).toHaveLength(1);
    await supervised.stop();
    expect(f.started).toHaveLength(1);
    expect(f.started[0]!.stops).toBe(1);
    expect(health.problems()).toEqual([]);
  });

  it('stop() during a start that waits: the start is told (its signal) and nothing is left', async () => {
    let starts = 0;
    let release!: () => void;
    const stopped: number[] = [];
    const supervised = await supervise({
      component: 'c',
      group: 'g',
      logger: quietLogger(),
      supervision: { restartDelayMs: quick },
      start: async (life) => {
        const id = ++starts;
        if (id === 1) {
          release = () => life.died(new Error('gone'));
        } else {
          // e.g. enforcement waiting for a topic view while the broker is away
          await new Promise((_, reject) =>
            life.signal.addEventListener('abort', () => reject(new Error('stopped'))),
          );
        }
        return { stop: async () => void stopped.push(id) };
      },
    });
    release();
    await waitFor('the second start, waiting', async () => (starts === 2 ? true : undefined));
    await supervised.stop();
    expect(stopped).toEqual([1]);
  });

  it('a failed first start is the caller’s: thrown, nothing supervised', async () => {
    await expect(
      supervise({
        component: 'c',
        group: 'g',
        logger: quietLogger(),
        start: async () => {
          throw new Error('no broker');
        },
      }),
    ).rejects.toThrow('no broker');
  });
});
