// The 17 simulated providers with a cost endpoint (hf-inference is priced locally), answering
// from a process of their own as they would from their own machines; shared by the pricing
// benches.
import { fork } from 'node:child_process';
import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';
import type { Kafka } from '@nanobill/kafka';
import { createEventGenerator } from '@nanobill/router-simulator';
import { produce, uniqueName } from '@nanobill/testkit';

export interface SimulatedProviders {
  /** The providers with a cost endpoint. */
  remote: string[];
  /** The providers file pricing reads (`parseProviders`). */
  file: Record<string, unknown>;
  /** How many cost calls the simulator has answered so far. */
  calls(): Promise<number>;
  stop(): void;
}

/** The providers with a cost endpoint: every default one but hf-inference. */
export const REMOTE_PROVIDERS = DEFAULT_PROVIDERS.filter((p) => p !== HF_INFERENCE);

export async function startSimulatedProviders(): Promise<SimulatedProviders> {
  const remote = [...REMOTE_PROVIDERS];
  const child = fork(new URL('./provider-simulator.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (line: Buffer) =>
      resolve((JSON.parse(line.toString()) as { url: string }).url),
    ),
  );
  const file: Record<string, unknown> = {
    [HF_INFERENCE]: { hardware: { 'nvidia-a10g': '0.00012' } },
  };
  for (const p of remote) {
    const tokenEnv = `BENCH_TOKEN_${p.toUpperCase().replace(/-/g, '_')}`;
    process.env[tokenEnv] = `bench-${p}`;
    file[p] = { costUrl: `${url}/${p}/cost`, tokenEnv, concurrency: 2, timeoutMs: 30_000 };
  }
  return {
    remote,
    file,
    calls: () =>
      new Promise<number>((resolve) => {
        child.once('message', (count) => resolve(count as number));
        child.send('count');
      }),
    stop: () => child.disconnect(),
  };
}

/**
 * `count` routed requests that reached the providers (round robin over `providers`), produced
 * in slices so that the bench does not hold them all; returns how many each provider got.
 */
export async function produceRequests(
  kafka: Kafka,
  topic: string,
  count: number,
  providers: readonly string[],
): Promise<Map<string, number>> {
  const generator = createEventGenerator({
    requestIdPrefix: `${uniqueName('bench')}-`,
    eventsPerSecondOfSimTime: Date.now,
  });
  const perProvider = new Map<string, number>();
  for (let first = 0; first < count; first += 50_000) {
    const messages = Array.from({ length: Math.min(50_000, count - first) }, (_, k) => {
      const provider = providers[(first + k) % providers.length]!;
      perProvider.set(provider, (perProvider.get(provider) ?? 0) + 1);
      const event = {
        ...generator.next(),
        provider,
        billingMode: 'routed',
        // No account snapshots in these benches: an org in X-HF-Bill-To would only measure fallbacks.
        billTo: undefined,
        computeTimeMs: undefined,
        hardware: undefined,
      };
      return {
        key: event.requestId,
        value: JSON.stringify({ ...event, providerRequestId: `${provider}-${event.requestId}` }),
      };
    });
    await produce(kafka, topic, messages);
  }
  return perProvider;
}
