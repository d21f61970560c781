import { Counter, Gauge, Histogram, type Registry } from '@nanobill/observability';

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    eventsIn: new Counter({
      name: 'nanobill_ingest_events_total',
      help: 'Request events consumed from inference.requests.v1',
      registers,
    }),
    rowsWritten: new Counter({
      name: 'nanobill_ingest_rows_written_total',
      help: 'Rows inserted into billing.usage',
      registers,
    }),
    duplicates: new Counter({
      name: 'nanobill_ingest_duplicates_total',
      help: 'Valid events not inserted because their request id was already stored or repeated in the batch',
      registers,
    }),
    rejected: new Counter({
      name: 'nanobill_ingest_dlq_total',
      help: 'Events sent to inference.requests.dlq.v1, by rejection code (storage_refused: ClickHouse refused the row)',
      labelNames: ['code'] as const,
      registers,
    }),
    flushFailures: new Counter({
      name: 'nanobill_ingest_flush_failures_total',
      help: 'Grouped inserts into billing.usage that failed for a reason other than their rows (ClickHouse unreachable, time-out, memory, too many parts, …); their batches are retried',
      registers,
    }),
    flushSeconds: new Histogram({
      name: 'nanobill_ingest_flush_seconds',
      help: 'Time to store one grouped batch in billing.usage (duplicate check and insert)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    duplicateCheckSeconds: new Histogram({
      name: 'nanobill_ingest_duplicate_check_seconds',
      help: 'Time, within a flush, to find which request ids of the batch are already stored',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    flushRows: new Histogram({
      name: 'nanobill_ingest_flush_rows',
      help: 'Rows inserted per flush',
      buckets: [1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000],
      registers,
    }),
    eventDelay: new Histogram({
      name: 'nanobill_ingest_event_delay_seconds',
      help: 'From the Kafka message timestamp to the row being stored',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    lag: new Gauge({
      name: 'nanobill_ingest_consumer_lag',
      help: 'Messages between the committed offset and the high watermark, per partition',
      labelNames: ['partition'] as const,
      registers,
    }),
  };
}
