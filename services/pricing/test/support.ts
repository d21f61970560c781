import type { RoutedRequestEvent } from '@nanobill/contract';
import { parseProviders } from '@nanobill/providers';
import {
  startProviderSimulator,
  type Fault,
  type ProviderSimulator,
} from '@nanobill/provider-simulator';
import { createEventGenerator } from '@nanobill/router-simulator';
import { uniqueName } from '@nanobill/testkit';

export interface SimulatedSetup {
  faults?: readonly Fault[];
  timeoutMs?: number;
  concurrency?: number;
  /** nanobill is configured with a token the provider does not accept. */
  wrongToken?: boolean;
}

export const HARDWARE = { 'nvidia-a10g': '0.00012', 'cpu-basic': '0.0000083' };

/** The provider simulator plus a providers file pointing at it; tokens go through the environment. */
export async function simulatedProviders(setups: Readonly<Record<string, SimulatedSetup>>) {
  const token = (name: string) => `token-${name}`;
  const simulator: ProviderSimulator = await startProviderSimulator({
    providers: Object.fromEntries(
      Object.keys(setups).map((name) => [name, { token: token(name) }]),
    ),
  });
  const file: Record<string, unknown> = { 'hf-inference': { hardware: HARDWARE } };
  for (const [name, setup] of Object.entries(setups)) {
    const tokenEnv = `NANOBILL_TEST_TOKEN_${name.toUpperCase().replace(/-/g, '_')}`;
    process.env[tokenEnv] = setup.wrongToken ? 'not-the-token' : token(name);
    file[name] = {
      costUrl: simulator.costUrl(name),
      tokenEnv,
      timeoutMs: setup.timeoutMs ?? 2_000,
      concurrency: setup.concurrency ?? 2,
    };
    if (setup.faults) simulator.setFaults(name, setup.faults);
  }
  return { simulator, registry: parseProviders(file), file };
}

/** Valid routed events of one provider, unique ids. */
export function routedEvents(provider: string, count: number, seed = 1): RoutedRequestEvent[] {
  const generator = createEventGenerator({
    seed,
    requestIdPrefix: `${uniqueName(provider)}-`,
    eventsPerSecondOfSimTime: Date.now,
  });
  return Array.from({ length: count }, () => {
    const event = generator.next();
    return {
      ...event,
      provider,
      billingMode: 'routed',
      billTo: undefined,
      providerRequestId: `${provider}-${event.requestId}`,
      computeTimeMs: undefined,
      hardware: undefined,
    } as RoutedRequestEvent;
  });
}

export const asMessages = (events: RoutedRequestEvent[]) =>
  events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) }));
