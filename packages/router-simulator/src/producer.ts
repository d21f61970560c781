import kafkajs, { type Kafka, type Message } from 'kafkajs';
import { encodeEvent, type EventGenerator } from './generator.js';
import { FastDefaultPartitioner } from './partitioner.js';

const { CompressionTypes } = kafkajs;

export interface RouterSimulatorOptions {
  kafka: Kafka;
  topic: string;
  /** Target events per second (wall clock). */
  ratePerSecond: number;
  /** Stop after this many events. */
  total?: number;
  /** Stop after this long (ms). */
  durationMs?: number;
  generator: EventGenerator;
  /** Stop when aborted; events already handed to the producer are still awaited. */
  signal?: AbortSignal;
  /**
   * Most messages per produce call. Default 500: kafkajs groups a call's messages per partition
   * in quadratic time, so many small concurrent calls beat a few large ones (measured).
   */
  batchSize?: number;
  /** Produce calls in flight at once. Default 64. */
  maxInFlight?: number;
  /** Pacing tick in ms. Default 50. */
  intervalMs?: number;
  /** Called with the number of acknowledged events after every acknowledged batch. */
  onProgress?: (sent: number) => void;
}

/**
 * Produces the generator's events to `topic` at `ratePerSecond`, paced on the wall clock: it
 * sends what is due since the start (a slow moment is caught up, never lost) in batches of at
 * most `batchSize` (about one tick's worth, `intervalMs`, at low rates), keyed by requestId,
 * acks=-1, no compression, up to `maxInFlight` calls at once. Stops on `total`, `durationMs`
 * (rate × duration events when it keeps up) or `signal`, whichever comes first; waits for the
 * calls in flight, disconnects its producer and returns how many events the broker
 * acknowledged. A failed produce stops the run and is thrown after the disconnect.
 */
export async function runRouterSimulator(
  options: RouterSimulatorOptions,
): Promise<{ sent: number }> {
  const { kafka, topic, ratePerSecond, total, durationMs, generator, signal, onProgress } = options;
  const batchSize = options.batchSize ?? 500;
  const maxInFlight = options.maxInFlight ?? 64;
  const intervalMs = options.intervalMs ?? 50;
  if (!(ratePerSecond > 0)) throw new Error(`ratePerSecond must be positive, got ${ratePerSecond}`);
  if (!(batchSize >= 1) || !(maxInFlight >= 1) || !(intervalMs > 0)) {
    throw new Error('batchSize, maxInFlight and intervalMs must be positive');
  }
  const limit = total ?? Number.POSITIVE_INFINITY;

  // Not @nanobill/kafka's topic publisher, on purpose: this is the router's side and the
  // benchmarks' load, not nanobill's. It sends many requests in flight at once (the publisher
  // sends one at a time, in order), without a schema check per event (the generator's events
  // are valid by construction, and hostile tests send invalid ones on purpose), with a cheaper
  // partitioner; its requests stay bounded by `batchSize` generated events (small ones).
  const producer = kafka.producer({
    // Same partitions as Partitioners.DefaultPartitioner (murmur2 of the key), cheaper.
    createPartitioner: FastDefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();

  let queued = 0;
  let sent = 0;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  /** Events due since the start at `ms` (wall clock), capped by `total`. */
  const dueBy = (ms: number) => Math.min(limit, Math.floor((ratePerSecond * ms) / 1000));
  /** One tick's worth of events: the batch the pacer waits for when it has caught up. */
  const tick = Math.ceil((ratePerSecond * intervalMs) / 1000);
  const quantum = Math.max(1, Math.min(batchSize, tick));

  const sendBatch = (messages: Message[]) => {
    const promise: Promise<void> = producer
      .send({ topic, messages, acks: -1, compression: CompressionTypes.None })
      .then(
        () => {
          sent += messages.length;
          onProgress?.(sent);
        },
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };

  try {
    while (failure === undefined && signal?.aborted !== true && queued < limit) {
      const elapsed = performance.now() - start;
      const timeUp = durationMs !== undefined && elapsed >= durationMs;
      const due = dueBy(timeUp ? durationMs : elapsed) - queued;
      // At the end of the duration, send the last tick's events; when far behind, just stop.
      if (timeUp && (due <= 0 || due > tick)) break;
      const want = Math.min(quantum, limit - queued);
      if (!timeUp && due < want) {
        // Caught up: sleep until a batch is due (at most a tick, at least 1 ms).
        let readyAt = ((queued + want) * 1000) / ratePerSecond;
        if (durationMs !== undefined) readyAt = Math.min(readyAt, durationMs);
        await pause(Math.max(1, Math.min(intervalMs, readyAt - elapsed)), signal);
        continue;
      }
      if (inFlight.size >= maxInFlight) {
        await Promise.race(inFlight);
        continue;
      }
      const n = Math.min(due, batchSize);
      const messages = new Array<Message>(n);
      for (let i = 0; i < n; i++) {
        const event = generator.next();
        // The key as bytes once: the partitioner hashes it and the encoder writes it as is.
        messages[i] = { key: Buffer.from(event.requestId), value: encodeEvent(event) };
      }
      queued += n;
      sendBatch(messages);
      // Let acknowledgements and timers run between full batches.
      if (n === batchSize) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(inFlight);
  } finally {
    await Promise.allSettled(inFlight);
    await producer.disconnect();
  }
  if (failure !== undefined) throw failure;
  return { sent };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
