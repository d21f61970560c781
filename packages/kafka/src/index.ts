export { createKafka, createProducer, type Kafka, type KafkaOptions } from './client.js';
export {
  kafkaFromConfig,
  kafkaSecurityOptions,
  type KafkaConfig,
  type KafkaFromConfigOptions,
} from './from-config.js';
export { ensureTopics, topicConfigDrift, type TopicConfigDrift, type TopicSpec } from './topics.js';
export {
  topicSpecs,
  prepareTopics,
  describeDrift,
  LEASE_TOPIC,
  TOPIC_NAMES,
  type TopicNames,
  type PreparedTopics,
} from './topic-specs.js';
export {
  startBatchConsumer,
  type BatchConsumerOptions,
  type PartitionBatch,
  type RunningConsumer,
} from './batch-consumer.js';
export { sendToDlq, splitValid, storageRefusals, DLQ_HEADERS, type Rejection } from './dlq.js';
export {
  replayDlq,
  DLQ_REPLAY_GROUP,
  REPLAY_HEADERS,
  type ReplayOptions,
  type ReplayedMessage,
  type ReplaySummary,
} from './dlq-replay.js';
export {
  defineTopic,
  onTopic,
  topicPublisher,
  publishOnce,
  publishOutgoing,
  outgoing,
  tombstone,
  chunked,
  outgoingBytes,
  InvalidMessageError,
  PartlyPublishedError,
  PUBLISH_LIMITS,
  RECORD_OVERHEAD_BYTES,
  type BatchSender,
  type MessageSchema,
  type Outgoing,
  type Publisher,
  type PublishLimits,
  type TopicDefinition,
} from './publisher.js';
export {
  ACCOUNT_SNAPSHOTS_TOPIC,
  ACCOUNT_STATUS_TOPIC,
  ALERTS_TOPIC,
  ORG_SETTINGS_TOPIC,
} from './contract-topics.js';
export { readOffsets, type Offsets, type PartitionOffsets } from './offsets.js';
export { startLease, type Lease, type LeaseOptions } from './lease.js';
export { startTopicView, type TopicView, type TopicViewOptions } from './topic-view.js';
export {
  supervise,
  reportTo,
  restartDelay,
  describeError,
  RESTART_FIRST_DELAY_MS,
  RESTART_MAX_DELAY_MS,
  type Life,
  type Stoppable,
  type Supervised,
  type Supervision,
} from './supervisor.js';
export type { KafkaMessage, Producer, SASLOptions } from 'kafkajs';
