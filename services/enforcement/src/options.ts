import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { EventWindow } from '@nanobill/contract';
import type { Kafka, Supervision } from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import type { ModelPriceBook, ProviderRegistry } from '@nanobill/providers';
import type { AccountsFeed } from './catch-up.js';

export interface EnforcementOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  providers: ProviderRegistry;
  topics?: { requests: string; accountStatus: string; alerts: string };
  groupId?: string;
  /**
   * Accepted timestamps around each message's Kafka time, as ingest's (the same decoder): an
   * event ingest dead-letters is never estimated. Default 35 days back, 5 minutes ahead.
   */
  eventWindow?: EventWindow;
  /** Business time: months, attribution grace. Storage watermarks use the real clock. */
  now?: () => Date;
  /** How long attribution waits for account facts (NANOBILL_ATTRIBUTION_GRACE_MS). */
  graceMs?: number;
  /**
   * The account snapshots' topic and the accounts service's group: at start-up, nothing is
   * decided before that group has stored what the topic held (bounded by `factsCatchUpMs`,
   * default a minute; not ready meanwhile). Absent: no wait (tests that store snapshots
   * themselves).
   */
  accountsFeed?: AccountsFeed;
  factsCatchUpMs?: number;
  /** How often facts, the ledger and the month are checked; 0: only `tick()` (tests). */
  tickMs?: number;
  /** How often the providers' `/v1/models` prices are fetched again. */
  modelsRefreshMs?: number;
  /** How long priced requests are remembered; requests older than this are not estimated. */
  priceMemoryMs?: number;
  /** At start-up, stored requests this recent without a cost get their estimate back. */
  estimateWindowMs?: number;
  /** Overlap of successive ledger reads (inserts become visible as a whole, late). */
  ledgerOverlapMs?: number;
  priceBook?: ModelPriceBook;
  sessionTimeoutMs?: number;
  /** Where enforcement restarting is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}
