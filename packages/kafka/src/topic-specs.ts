import { TOPICS } from '@nanobill/contract';
import type { Kafka } from './client.js';
import { ensureTopics, topicConfigDrift, type TopicConfigDrift, type TopicSpec } from './topics.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The one-partition topic whose partition is each singleton's lease (one group per singleton). */
export const LEASE_TOPIC = 'nanobill.leases.v1';

/** The names of the topics nanobill creates: the contract's, plus the lease topic. */
export type TopicNames = Record<keyof typeof TOPICS | 'leases', string>;
export const TOPIC_NAMES: TopicNames = { ...TOPICS, leases: LEASE_TOPIC };

/**
 * The topics nanobill creates when they are missing (`nanobill migrate`, `nanobill run`), with
 * the partitions and configs that carry its guarantees. `names` lets a test use topics of its own.
 */
export function topicSpecs(
  requestsPartitions: number,
  names: TopicNames = TOPIC_NAMES,
): TopicSpec[] {
  return [
    // The broker stamps each event with its own clock when it appends it: the reference of the
    // event window (a router cannot move it, and every consumer reads the same instant).
    {
      topic: names.requests,
      numPartitions: requestsPartitions,
      configs: { 'message.timestamp.type': 'LogAppendTime' },
    },
    { topic: names.alerts, numPartitions: 3, configs: { 'retention.ms': String(90 * DAY_MS) } },
    // The router reads each account's latest status; compaction keeps just that.
    { topic: names.accountStatus, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
    // Latest snapshot per account forever; the history lives in billing.account_snapshots.
    { topic: names.accounts, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
    {
      topic: names.accountsDlq,
      numPartitions: 1,
      configs: { 'retention.ms': String(30 * DAY_MS) },
    },
    // Its one partition is the lease of each singleton service; nothing is produced to it.
    { topic: names.leases, numPartitions: 1 },
    // Rejected events wait for a fix and a replay: kept a month.
    {
      topic: names.requestsDlq,
      numPartitions: 1,
      configs: { 'retention.ms': String(30 * DAY_MS) },
    },
  ];
}

export interface PreparedTopics {
  /** The topics this call created (the others existed). */
  created: string[];
  /** Configs an existing topic lacks: never changed here, the operator fixes them. */
  drift: TopicConfigDrift[];
}

/**
 * Creates the missing topics of `specs` and reports the configs existing ones lack: the one topic
 * step of `nanobill migrate` and of `nanobill run`, so a router started before nanobill finds its
 * topics once migrate has run.
 */
export async function prepareTopics(kafka: Kafka, specs: TopicSpec[]): Promise<PreparedTopics> {
  const created = await ensureTopics(kafka, specs);
  return { created, drift: await topicConfigDrift(kafka, specs) };
}

/** What an operator reads about a drifted config: the difference and the command that fixes it. */
export function describeDrift(drift: TopicConfigDrift): string {
  return (
    `topic ${drift.topic} has ${drift.name}=${drift.actual ?? '(unset)'}, nanobill needs ${drift.wanted}: ` +
    `kafka-configs.sh --alter --entity-type topics --entity-name ${drift.topic} --add-config ${drift.name}=${drift.wanted}`
  );
}
