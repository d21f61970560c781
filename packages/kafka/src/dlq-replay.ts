import type { KafkaMessage } from 'kafkajs';
import { createProducer, type Kafka } from './client.js';
import { DLQ_HEADERS } from './dlq.js';
import { publishOutgoing, type Outgoing } from './publisher.js';
import type { Logger } from '@nanobill/observability';

/** The durable consumer group of `nanobill dlq replay`: a second run continues where one stopped. */
export const DLQ_REPLAY_GROUP = 'nanobill-dlq-replay';

/** Headers a replayed message carries, besides the ones it had before it was rejected. */
export const REPLAY_HEADERS = {
  from: 'nanobill-replayed-from',
  at: 'nanobill-replayed-at',
} as const;

/**
 * The group's offset metadata holds the offsets above the committed one that a `--code` run has
 * already replayed (the committed offset cannot pass a message of another code). Kafka keeps
 * at most 4096 bytes of metadata per partition by default; a run stops before it needs more.
 */
const MAX_METADATA_CHARS = 3_000;
const PROGRESS_PREFIX = 'v1:';
const FIRST_REASONS = 5;
const MAX_REPORTED_REFUSALS = 20;

export interface ReplayOptions {
  kafka: Kafka;
  /** The dead-letter topic to read, e.g. `inference.requests.dlq.v1`. */
  topic: string;
  groupId: string;
  /** At most this many DLQ messages handled (replayed or refused) in this run. */
  limit?: number;
  /** Only messages whose `nanobill-code` header is this; the others stay for a later run. */
  code?: string;
  /** Reads and reports; produces and commits nothing. */
  dryRun: boolean;
  logger: Logger;
  /** Gives up when the consumer makes no progress this long (default 30 s). */
  idleTimeoutMs?: number;
  now?: () => Date;
}

export interface ReplayedMessage {
  /** `<dlq topic>:<partition>:<offset>` */
  from: string;
  code: string;
  reason: string;
}

export interface ReplaySummary {
  /** True: the counts say what a replay would do; nothing was produced or committed. */
  dryRun: boolean;
  /** Messages re-produced to their source topic (would be, in a dry run). */
  replayed: number;
  /** Messages refused: no `nanobill-source-topic` header, or sent without their value (not retried). */
  skipped: number;
  byCode: Record<string, number>;
  bySourceTopic: Record<string, number>;
  /** The first few replayed messages, with their rejection reason. */
  firstReasons: ReplayedMessage[];
  /** The refused messages (the first few), to fix by hand. */
  refused: ReplayedMessage[];
  /** False when the run stopped before the end offsets it saw at start (`--limit`, …). */
  complete: boolean;
  /** Why it stopped early, when it did. */
  stoppedEarly?: string;
}

/** Offsets of one partition, as bigint: Kafka's are 64-bit. */
interface PartitionState {
  /** The committed offset: every message below it has been handled. */
  next: bigint;
  /** Handled offsets at or above `next`, as sorted, disjoint, inclusive ranges. */
  done: Array<[bigint, bigint]>;
  /** The next offset to examine. */
  position: bigint;
  /** The topic's end offset when the run started: the run stops there. */
  end: bigint;
  /** A message at or above `next` was left for a later run (another code). */
  blocked: boolean;
}

/**
 * Replays a dead-letter topic: each message's original key and bytes go back to the topic named
 * by its `nanobill-source-topic` header, with `nanobill-replayed-from` and `nanobill-replayed-at`
 * headers (the DLQ's own headers removed), acks=-1. The group's offsets are committed only after
 * the produce succeeded (at least once). Reads from the earliest offset on first use, up to the end
 * offsets of the topic at start, then stops.
 */
export async function replayDlq(options: ReplayOptions): Promise<ReplaySummary> {
  const { kafka, topic, groupId, code, dryRun, logger } = options;
  const limit = options.limit ?? Infinity;
  const now = options.now ?? (() => new Date());
  const summary: ReplaySummary = {
    dryRun,
    replayed: 0,
    skipped: 0,
    byCode: {},
    bySourceTopic: {},
    firstReasons: [],
    refused: [],
    complete: true,
  };

  const states = await startingPoint(kafka, topic, groupId, logger);
  const pending = () =>
    [...states].filter(([, s]) => s.position < s.end).map(([partition]) => partition);
  if (pending().length === 0) return summary;

  const producer = dryRun ? undefined : createProducer(kafka);
  await producer?.connect();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let stopped = false;
  let failure: unknown;
  let owned: number[] = [];
  let idle: NodeJS.Timeout | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const stop = (why?: string) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(idle);
    if (why !== undefined) {
      summary.complete = false;
      summary.stoppedEarly = why;
      logger.warn({ topic, groupId }, why);
    }
    finish();
  };
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const progress = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => stop(`no progress for ${idleTimeoutMs} ms; stopping (run again to continue)`),
      idleTimeoutMs,
    );
  };
  const checkDone = () => {
    const left = pending();
    const mine = left.filter((p) => owned.includes(p));
    if (mine.length > 0) return;
    if (left.length > 0) {
      stop(
        `partitions ${left.join(', ')} are held by another member of group ${groupId}; ` +
          'run again once it has finished',
      );
    } else stop();
  };

  const handled = () => summary.replayed + summary.skipped;
  const atLimit = `stopped at the limit of ${limit} messages; run again to continue`;

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    owned = payload.memberAssignment[topic] ?? [];
    progress();
    checkDone();
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    failure ??= payload.error;
    stop();
  });

  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    progress();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isRunning, isStale }) => {
        if (stopped || !isRunning() || isStale()) return;
        progress();
        const state = states.get(batch.partition);
        if (state === undefined) return;
        const outgoing: Outgoing[] = [];
        let halt: string | undefined;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset < state.position) continue;
          if (offset >= state.end) {
            state.position = state.end;
            break;
          }
          if (handled() + outgoing.length >= limit) {
            halt = atLimit;
            break;
          }
          state.position = offset + 1n;
          if (isHandled(state, offset)) {
            advance(state, offset);
            continue;
          }
          const rejection = headerString(message.headers?.[DLQ_HEADERS.code]) ?? '(none)';
          if (code !== undefined && rejection !== code) {
            state.blocked = true;
            continue;
          }
          const from = `${batch.topic}:${batch.partition}:${message.offset}`;
          const reason = headerString(message.headers?.[DLQ_HEADERS.reason]) ?? '';
          if (!advance(state, offset)) {
            // The offset metadata is full: stop before this message, it is handled next run.
            state.position = offset;
            halt =
              `partition ${batch.partition}: too many messages replayed out of order with --code ` +
              'to record; run once without --code';
            break;
          }
          const source = headerString(message.headers?.[DLQ_HEADERS.sourceTopic]);
          const refusal = !source
            ? `no ${DLQ_HEADERS.sourceTopic} header, nowhere to replay it`
            : droppedValueRefusal(message);
          if (!source || refusal !== undefined) {
            summary.skipped++;
            if (summary.refused.length < MAX_REPORTED_REFUSALS) {
              summary.refused.push({ from, code: rejection, reason });
            }
            logger.warn({ from, code: rejection }, `refused: ${refusal}`);
            continue;
          }
          outgoing.push(replayMessage(source, message, from, now()));
          summary.byCode[rejection] = (summary.byCode[rejection] ?? 0) + 1;
          summary.bySourceTopic[source] = (summary.bySourceTopic[source] ?? 0) + 1;
          if (summary.firstReasons.length < FIRST_REASONS) {
            summary.firstReasons.push({ from, code: rejection, reason });
          }
        }
        try {
          if (producer !== undefined) {
            await publishOutgoing(producer, outgoing);
            await consumer.commitOffsets([
              {
                topic,
                partition: batch.partition,
                offset: state.next.toString(),
                metadata: formatProgress(state.done),
              },
            ]);
          }
          summary.replayed += outgoing.length;
        } catch (error) {
          failure = error;
          stop();
          return;
        }
        if (halt !== undefined) stop(halt);
        else if (handled() >= limit && pending().length > 0) stop(atLimit);
        else checkDone();
      },
    });
    await finished;
  } finally {
    clearTimeout(idle);
    await consumer.disconnect();
    await producer?.disconnect();
  }
  if (failure !== undefined) throw failure;
  logger.info({ topic, groupId, ...summary }, dryRun ? 'DLQ replay (dry run)' : 'DLQ replayed');
  return summary;
}

/** Where the group stands on each partition, and where the topic ends now. */
async function startingPoint(
  kafka: Kafka,
  topic: string,
  groupId: string,
  logger: Logger,
): Promise<Map<number, PartitionState>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      throw new Error(`topic ${topic} does not exist`);
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const states = new Map<number, PartitionState>();
    for (const { partition, low, high } of offsets) {
      const mine = committed?.partitions.find((p) => p.partition === partition);
      const committedOffset = mine === undefined ? -1n : BigInt(mine.offset);
      const next = committedOffset < BigInt(low) ? BigInt(low) : committedOffset;
      let done = parseProgress(mine?.metadata ?? null);
      if (done === undefined) {
        logger.warn(
          { topic, partition, metadata: mine?.metadata },
          'ignoring unknown offset metadata',
        );
        done = [];
      }
      states.set(partition, {
        next,
        done: done.filter(([, to]) => to >= next),
        position: next,
        end: BigInt(high),
        blocked: false,
      });
    }
    return states;
  } finally {
    await admin.disconnect();
  }
}

function isHandled(state: PartitionState, offset: bigint): boolean {
  return offset < state.next || state.done.some(([from, to]) => offset >= from && offset <= to);
}

/**
 * Records `offset` as handled. While nothing was left behind in this run, the committed offset
 * follows it; otherwise it joins the ranges kept in the metadata. False when they would not fit.
 */
function advance(state: PartitionState, offset: bigint): boolean {
  if (!state.blocked) {
    state.next = offset + 1n;
    state.done = state.done.filter(([, to]) => to >= state.next);
    while (state.done[0] !== undefined && state.done[0][0] <= state.next) {
      state.next = state.done.shift()![1] + 1n;
    }
    return true;
  }
  const done = addOffset(state.done, offset);
  if ((formatProgress(done)?.length ?? 0) > MAX_METADATA_CHARS) return false;
  state.done = done;
  return true;
}

function addOffset(ranges: Array<[bigint, bigint]>, offset: bigint): Array<[bigint, bigint]> {
  const all = [...ranges, [offset, offset] as [bigint, bigint]].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const merged: Array<[bigint, bigint]> = [];
  for (const [from, to] of all) {
    const last = merged.at(-1);
    if (last !== undefined && from <= last[1] + 1n) last[1] = to > last[1] ? to : last[1];
    else merged.push([from, to]);
  }
  return merged;
}

function formatProgress(done: Array<[bigint, bigint]>): string | null {
  if (done.length === 0) return null;
  return PROGRESS_PREFIX + done.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`));
}

/** Undefined when the metadata is not ours. */
function parseProgress(metadata: string | null): Array<[bigint, bigint]> | undefined {
  if (metadata === null || metadata === '') return [];
  if (!metadata.startsWith(PROGRESS_PREFIX)) return undefined;
  const ranges: Array<[bigint, bigint]> = [];
  for (const part of metadata.slice(PROGRESS_PREFIX.length).split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) return undefined;
    ranges.push([BigInt(match[1]!), BigInt(match[2] ?? match[1]!)]);
  }
  return ranges;
}

type HeaderValue = NonNullable<KafkaMessage['headers']>[string];

function headerString(value: HeaderValue): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

const DLQ_HEADER_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

/** The original key, bytes and headers; the DLQ's headers make way for the replay's. */
/** A dead letter sent without its value (too large to travel, see `sendToDlq`): nothing to replay. */
function droppedValueRefusal(message: KafkaMessage): string | undefined {
  const bytes = headerString(message.headers?.[DLQ_HEADERS.valueDropped]);
  return bytes === undefined
    ? undefined
    : `its ${bytes}-byte value was too large to keep in the DLQ; the original is at the source offset`;
}

function replayMessage(topic: string, message: KafkaMessage, from: string, at: Date): Outgoing {
  const headers: NonNullable<Outgoing['headers']> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined || DLQ_HEADER_NAMES.has(name)) continue;
    headers[name] = value;
  }
  headers[REPLAY_HEADERS.from] = from;
  headers[REPLAY_HEADERS.at] = at.toISOString();
  return { topic, key: message.key, value: message.value, headers };
}
