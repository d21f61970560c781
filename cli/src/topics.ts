import { TOPICS } from '@nanobill/contract';
import type { TopicSpec } from '@nanobill/kafka';
import { LEASE_TOPIC } from './singleton.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The topics nanobill creates on start-up when they are missing. */
export function topicSpecs(requestsPartitions: number): TopicSpec[] {
  return [
    // The broker stamps each event with its own clock when it appends it: the reference of the
    // event window (a router cannot move it, and every consumer reads the same instant).
    {
      topic: TOPICS.requests,
      numPartitions: requestsPartitions,
      configs: { 'message.timestamp.type': 'LogAppendTime' },
    },
    { topic: TOPICS.alerts, numPartitions: 3, configs: { 'retention.ms': String(90 * DAY_MS) } },
    // The router reads each account's latest status; compaction keeps just that.
    { topic: TOPICS.accountStatus, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
    // Latest snapshot per account forever; the history lives in billing.account_snapshots.
    { topic: TOPICS.accounts, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
    {
      topic: TOPICS.accountsDlq,
      numPartitions: 1,
      configs: { 'retention.ms': String(30 * DAY_MS) },
    },
    // Its one partition is the lease of each singleton service; nothing is produced to it.
    { topic: LEASE_TOPIC, numPartitions: 1 },
    // Rejected events wait for a fix and a replay: kept a month.
    {
      topic: TOPICS.requestsDlq,
      numPartitions: 1,
      configs: { 'retention.ms': String(30 * DAY_MS) },
    },
  ];
}
