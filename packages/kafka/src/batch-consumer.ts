import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '@nanobill/observability';
import {
  connectAndSubscribe,
  reportTo,
  supervise,
  type Life,
  type Supervision,
} from './supervisor.js';

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  logger: Logger;
  /**
   * Takes a partition's batch and resolves once its work is durable. It may keep the batch
   * waiting (e.g. to group it with the other partitions' batches into one write).
   */
  handle(batch: PartitionBatch): Promise<void>;
  /** Called with every new assignment: the partitions of `topic` this member now owns. */
  onAssigned?(partitions: number[]): void;
  /** Called after each commit with the partition's remaining lag (messages). */
  onCommitted?(partition: number, lag: number): void;
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
  /** Names this one in `/readyz` when a process runs several members of the group (e.g. `#2`). */
  member?: string;
  /** How long a silent member keeps its partitions; a crashed one delays its successor this long. */
  sessionTimeoutMs?: number;
  /** Health, restart metric and delays of the supervisor that restarts this consumer. */
  supervision?: Supervision;
  /**
   * Given: this consumer does not restart itself. Every crash ends it (reported as `died`) and
   * the caller restarts what it belongs to: a service whose memory must be rebuilt.
   */
  life?: Life;
}

export interface RunningConsumer {
  /** Stops fetching, waits for the batches in flight to be durable and committed, leaves the group. */
  stop(): Promise<void>;
}

/** How soon a failed batch is fetched again when no other delivery restarts the consumer. */
const RETRY_FAILED_BATCH_MS = 1_000;
const HEARTBEAT_MS = 3_000;

/**
 * Waits for `work` (failure included: the commit chain reports it), heartbeating meanwhile; a
 * rebalance announced by a heartbeat is rethrown only after the work has settled.
 */
async function untilSettled(work: Promise<unknown>, heartbeat: () => Promise<void>) {
  let settled = false;
  const done = work.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  let rebalance: unknown;
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((resolve) => (timer = setTimeout(resolve, HEARTBEAT_MS))),
    ]);
    clearTimeout(timer);
    if (settled) break;
    await heartbeat().catch((error: unknown) => void (rebalance ??= error));
  }
  if (rebalance !== undefined) throw rebalance;
  await heartbeat();
}

/**
 * A supervised `startIncarnation` (below): a consumer that kafkajs does not restart after a
 * crash (e.g. "Failed to find group coordinator" while the broker goes away) is restarted with
 * backoff, reported in `/readyz` meanwhile and counted (see `supervise`). It resumes from the
 * committed offsets, so a restart redelivers what was not committed, as any restart does.
 */
export async function startBatchConsumer(options: BatchConsumerOptions): Promise<RunningConsumer> {
  if (options.life) return startIncarnation(options, options.life, 'every crash ends it');
  const supervised = await supervise({
    component: `kafka consumer ${options.groupId}${options.member ? ` ${options.member}` : ''}`,
    group: options.groupId,
    logger: options.logger,
    supervision: options.supervision,
    start: (life) => startIncarnation(options, life, 'kafkajs restarts retriable ones'),
  });
  return { stop: () => supervised.stop() };
}

/**
 * At-least-once consumption. A partition's offsets are committed only once `handle` has made the
 * batch durable, in order, one commit chain per partition; the consumer holds each batch until
 * it is stored, so a partition changes owner in a rebalance only after its rows are visible to
 * the next owner. Batches of different partitions are handled together (one write can serve
 * them all). A crash before a commit redelivers, so `handle` must be idempotent.
 *
 * When a batch fails, no later offset of its partition is committed, and the next delivery
 * throws so that kafkajs restarts the consumer from the committed offsets (the failed batch is
 * fetched again after a second if nothing else arrives): nothing is skipped.
 */
async function startIncarnation(
  options: BatchConsumerOptions,
  life: Life,
  crashes: Parameters<typeof reportTo>[2],
): Promise<RunningConsumer> {
  const { kafka, groupId, topic, logger, handle, onCommitted } = options;
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: HEARTBEAT_MS,
  });
  const commitChains = new Map<number, Promise<void>>();
  let failure: unknown;
  let stopping = false;
  /** Crashed and not running again (yet): kafkajs left the group and disconnected it. */
  let crashed = false;

  /** Chains the batch after its partition's earlier ones; resolves once it is stored. */
  const storeThenCommit = (
    partition: number,
    durable: Promise<void>,
    first: string,
    next: string,
    highWatermark: string,
  ) => {
    const previous = commitChains.get(partition) ?? Promise.resolve();
    const stored = previous.then(() => durable);
    const chain = stored.then(async () => {
      await consumer.commitOffsets([{ topic, partition, offset: next }]);
      onCommitted?.(partition, Math.max(0, Number(BigInt(highWatermark) - BigInt(next))));
    });
    chain.catch((error: unknown) => {
      if (failure !== undefined || stopping) return; // later batches of the same failure
      failure = error;
      logger.error(
        { err: error, groupId, partition },
        'batch failed; its partition restarts from the last commit',
      );
      // The restart happens in the next delivery; on a quiet topic there may be none, so fetch
      // the failed batch again (its first offset is this partition's last commit).
      setTimeout(() => {
        if (failure !== error || stopping) return;
        try {
          consumer.seek({ topic, partition, offset: first });
        } catch (err) {
          logger.warn({ err, groupId, partition }, 'could not fetch the failed batch again');
        }
      }, RETRY_FAILED_BATCH_MS);
    });
    commitChains.set(partition, chain);
    return stored;
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    crashed = false;
    logger.info({ groupId, assignment: payload.memberAssignment }, 'partitions assigned');
    options.onAssigned?.(payload.memberAssignment[topic] ?? []);
  });
  consumer.on(consumer.events.CRASH, () => {
    // kafkajs has left the group (its batches in flight returned first): this member owns no
    // partition now, whatever happens next. A member that rejoins is told its new assignment.
    crashed = true;
    options.onAssigned?.([]);
  });
  reportTo(consumer, life, crashes);
  await connectAndSubscribe(consumer, topic, true);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (failure !== undefined) {
        const error = failure;
        failure = undefined;
        commitChains.clear();
        throw error;
      }
      if (stopping || batch.messages.length === 0 || !isRunning() || isStale()) return;
      const durable = handle({
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages,
      });
      // Its failure is read by the commit chain once the earlier batches are durable; until
      // then it must not count as unhandled (Node would end the process).
      durable.catch(() => undefined);
      const last = batch.lastOffset();
      const stored = storeThenCommit(
        batch.partition,
        durable,
        batch.firstOffset() ?? batch.messages[0]!.offset,
        (BigInt(last) + 1n).toString(),
        batch.highWatermark,
      );
      resolveOffset(last);
      // The batch is held until it is stored (its commit follows on its own). A member rejoins
      // a rebalance only once its batches have returned, so the partition's next owner never
      // looks for rows still on their way here (it would store them a second time); heartbeats
      // keep the membership meanwhile, and a rebalance waits for it up to the rebalance timeout.
      await untilSettled(stored, heartbeat);
    },
  });
  logger.info({ groupId, topic }, 'consumer started');
  return {
    async stop() {
      // Every batch already handed over has its chain registered (that part of eachBatch is
      // synchronous); let them all commit before leaving the group.
      stopping = true;
      if (crashed) {
        // Nothing of it runs; this also cancels a restart kafkajs may have scheduled.
        await consumer.disconnect();
      } else {
        consumer.pause([{ topic }]);
      }
      await Promise.allSettled(commitChains.values());
      await consumer.disconnect();
      logger.info({ groupId, topic }, 'consumer stopped');
    },
  };
}
