// The 17 simulated providers with a cost endpoint (hf-inference is priced locally), answering
// from a process of their own as they would from their own machines; shared by the pricing
// benches.
import { fork } from 'node:child_process';
import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';

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
