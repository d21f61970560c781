import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics, LEASE_TOPIC, type Kafka } from '@nanobill/kafka';
import { ComponentHealth, createMetricsRegistry, startOpsServer } from '@nanobill/observability';
import { quietLogger, testKafka, uniqueName, waitFor } from '@nanobill/testkit';
import { startSingleton } from '@nanobill/pipeline';

// Attack: the lease holder's service cannot start (ClickHouse unreachable from this host, a bad
// secret, a migration missing): before, the holder retried forever, kept the lease (so no standby
// ever took over), reported nothing and `/readyz` stayed 200 with `nanobill_lease_held 0`: the
// singleton ran nowhere and nothing said so. Now: 503 naming the service with the reason while the
// holder fails, the lease given up after a bounded number of failed starts, a standby whose start
// works takes over, and the failed holder competes again as a ready standby.

/** Every reason each component was reported unhealthy with, in order. */
class RecordedHealth extends ComponentHealth {
  readonly #reasons: Array<[string, string]> = [];
  override unhealthy(component: string, reason: string): void {
    this.#reasons.push([component, reason]);
    super.unhealthy(component, reason);
  }
  reasonsOf(component: string): string[] {
    return this.#reasons.filter(([c]) => c === component).map(([, r]) => r);
  }
}

interface Instance {
  kafka: Kafka;
  health: RecordedHealth;
  metrics(): Promise<string>;
  readyz(): Promise<{ status: number; checks: Record<string, string> }>;
  stop(): Promise<void>;
}

describe('a singleton whose start keeps failing (real broker)', () => {
  const stops: Array<() => Promise<void>> = [];
  /** Starts held back by the test: let go before stopping, whatever the test saw. */
  const gates: Array<() => void> = [];
  afterAll(async () => {
    for (const open of gates) open();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  /** One process: its own Kafka client, registry, component health and ops port. */
  async function instance(name: string, start: () => Promise<{ stop(): Promise<void> }>) {
    const kafka = testKafka();
    const registry = createMetricsRegistry();
    const health = new RecordedHealth();
    const logger = quietLogger();
    const singleton = await startSingleton({
      name,
      kafka,
      logger,
      registry,
      supervision: { health },
      start,
      retryStartMs: 300,
      maxFailedStarts: 3,
      // Longer than a rebalance: the standby has the lease before the failed holder is back.
      rejoinDelayMs: { first: 3_000, max: 6_000 },
    });
    const ops = await startOpsServer({
      port: 0,
      registry,
      logger,
      readiness: {},
      components: health,
    });
    const base = `http://127.0.0.1:${ops.port}`;
    const stop = async () => {
      await singleton.stop();
      await ops.close();
    };
    stops.push(stop);
    const found: Instance = {
      kafka,
      health,
      metrics: async () => (await fetch(`${base}/metrics`)).text(),
      readyz: async () => {
        const response = await fetch(`${base}/readyz`);
        const body = (await response.json()) as { checks: Record<string, string> };
        return { status: response.status, checks: body.checks };
      },
      stop,
    };
    return found;
  }

  it('503 naming it while it fails, the lease handed to a standby that starts, the failed holder a ready standby', async () => {
    await ensureTopics(testKafka(), [{ topic: LEASE_TOPIC, numPartitions: 1 }]);
    // A name of its own: other test files may hold the real services' leases.
    const name = uniqueName('it-failing-singleton');
    const held = (value: 0 | 1) => `nanobill_lease_held{service="${name}"} ${value}\n`;

    let failedStarts = 0;
    // The third failure (the limit) waits until the test has seen the holder failing: what is
    // asserted is the state, not how fast it can be seen.
    let seenFailing!: () => void;
    const failingSeen = new Promise<void>((resolve) => (seenFailing = resolve));
    gates.push(seenFailing);
    const broken = await instance(name, async () => {
      failedStarts++;
      if (failedStarts === 3) await failingSeen;
      throw new Error('ClickHouse unreachable (the test broke this start)');
    });

    // While it holds the lease without its service: not ready, saying why, and the lease gauge
    // says it holds the lease (it used to say 0 there).
    const failing = await waitFor(
      '/readyz of the lease holder to name the service that does not start',
      async () => {
        const readyz = await broken.readyz();
        const reason = readyz.checks[name];
        return readyz.status === 503 && reason?.includes('start failed') ? reason : undefined;
      },
      30_000,
      50,
    );
    expect(failing).toMatch(
      /^holds the lease, start failed \d+ times?: Error: ClickHouse unreachable \(the test broke this start\); retrying$/,
    );
    expect(await broken.metrics()).toContain(held(1));

    let started = 0;
    let stopped = 0;
    const standby = await instance(name, async () => {
      started++;
      return { stop: async () => void stopped++ };
    });
    seenFailing();

    // The broken holder gives the lease up; the standby takes it and starts its service.
    await waitFor(
      'the standby to take the lease and run the service',
      async () => (started > 0 ? true : undefined),
      60_000,
    );
    // The broken instance is back in the group as a standby: ready (its normal state), lease
    // gauge 0; the new holder is ready with its service running, started once and not stopped.
    await waitFor(
      'the broken instance to be a ready standby',
      async () => {
        const readyz = await broken.readyz();
        return readyz.status === 200 && (await broken.metrics()).includes(held(0))
          ? true
          : undefined;
      },
      60_000,
    );
    const active = await standby.readyz();
    expect(active.status, JSON.stringify(active.checks)).toBe(200);
    expect(await standby.metrics()).toContain(held(1));
    expect([started, stopped]).toEqual([1, 0]);
    // Bounded: it gave the lease up at the limit, said so, and did not retry for ever.
    expect(failedStarts % 3, String(failedStarts)).toBe(0);
    expect(broken.health.reasonsOf(name)).toContainEqual(
      expect.stringMatching(
        /^gave up the lease after 3 failed starts \(last: Error: ClickHouse unreachable \(the test broke this start\)\); competing for it again in 3 s$/,
      ),
    );
    expect(standby.health.reasonsOf(name)).toEqual(['holds the lease, starting the service']);
  });
});
