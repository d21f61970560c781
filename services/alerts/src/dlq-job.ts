import type { Alert } from '@nanobill/contract';
import { readOffsets, type Kafka } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';
import { DlqWatch } from './dlq-watch.js';
import type { AlertsMetrics } from './metrics.js';
import { dlqGrowth } from './ops-alerts.js';

export interface DlqWatchJobOptions {
  kafka: Kafka;
  topics: readonly string[];
  /** Check interval (0: never), growth that alerts, one alert per topic per window. */
  watch: { intervalMs: number; threshold: number; windowMs: number };
  /** Raises the operations alert of a topic that grew. */
  raise(alert: Alert): Promise<void>;
  metrics: AlertsMetrics;
  logger: Logger;
  now: () => Date;
}

/**
 * Watches the dead-letter topics: their end offsets read every `intervalMs` (the first reading,
 * made before this returns, is the baseline), a `dlq_growth` alert raised for a topic that grew.
 * An alert that could not be raised is raised at the next check.
 */
export async function startDlqWatchJob(options: DlqWatchJobOptions): Promise<{ stop(): void }> {
  const { watch, logger } = options;
  const dlq = new DlqWatch(watch.threshold, watch.windowMs);
  if (watch.intervalMs <= 0) return { stop: () => undefined };
  const check = () =>
    checkDlqs(options, dlq).catch((err: unknown) => logger.error({ err }, 'DLQ check failed'));
  const timer = setInterval(() => void check(), watch.intervalMs);
  await check();
  return { stop: () => clearInterval(timer) };
}

async function checkDlqs(options: DlqWatchJobOptions, dlq: DlqWatch): Promise<void> {
  await readOffsets(options.kafka, async (offsets) => {
    for (const topic of options.topics) {
      const ends = await offsets.topicEnds(topic);
      const end = ends.reduce((sum, o) => sum + o.high, 0n);
      options.metrics.dlqMessages.set({ topic }, Number(end));
      const growth = dlq.observe(topic, end, options.now().getTime());
      if (growth === undefined) continue;
      await options.raise(dlqGrowth(topic, growth, end, options.now())).catch((error: unknown) => {
        dlq.unraise(topic, growth);
        throw error;
      });
    }
  });
}
