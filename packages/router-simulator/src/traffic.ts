import { TOPICS, type AccountSnapshot } from '@nanobill/contract';
import { ACCOUNT_SNAPSHOTS_TOPIC, onTopic, publishOnce, type Kafka } from '@nanobill/kafka';
import { accountSnapshots } from './accounts.js';
import { createEventGenerator, type EventGenerator } from './generator.js';

/**
 * Live router traffic for `nanobill demo` and `nanobill simulate router`: the router simulator's
 * events stamped with the wall clock, request ids under `prefix` (one per run, so a restarted
 * simulator never repeats an id), and the account snapshots of its users and orgs as the hub
 * would publish them, in force since an hour ago.
 */
export function simulatedTraffic(options: { prefix: string; seed?: number }): {
  generator: EventGenerator;
  snapshots: AccountSnapshot[];
} {
  const generator = createEventGenerator({
    seed: options.seed,
    requestIdPrefix: options.prefix,
    eventsPerSecondOfSimTime: Date.now,
  });
  return { generator, snapshots: accountSnapshots(generator, new Date(Date.now() - 3_600_000)) };
}

/** A request id prefix of its own for one run, e.g. `demo-mf3k2x1a-`. */
export function runPrefix(name: string): string {
  return `${name}-${Date.now().toString(36)}-`;
}

/** The hub's side: the simulated users and orgs, so attribution and credits have facts. */
export async function publishAccounts(
  kafka: Kafka,
  snapshots: AccountSnapshot[],
  topic: string = TOPICS.accounts,
): Promise<void> {
  await publishOnce(kafka, onTopic(ACCOUNT_SNAPSHOTS_TOPIC, topic), snapshots);
}
