import { decodeAccountSnapshot, spendingLimitOf, type AccountSnapshot } from '@nanobill/contract';
import { BatchWriter, type ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountHistory } from '@nanobill/attribution';

/** One `billing.account_snapshots` row. */
export interface SnapshotRow {
  account_id: string;
  kind: string;
  plan: string;
  effective_at: string;
  seats: number | null;
  members: string[];
  spending_limit_nano_usd: string | null;
  disabled_providers: string[];
  alert_webhook_url: string | null;
  snapshot: string;
}

const COLUMNS = [
  'account_id',
  'kind',
  'plan',
  'effective_at',
  'seats',
  'members',
  'spending_limit_nano_usd',
  'disabled_providers',
  'alert_webhook_url',
  'snapshot',
] as const satisfies ReadonlyArray<keyof SnapshotRow>;

export function snapshotRow(snapshot: AccountSnapshot): SnapshotRow {
  const org = snapshot.kind === 'org' ? snapshot : undefined;
  return {
    account_id: snapshot.accountId,
    kind: snapshot.kind,
    plan: snapshot.plan,
    effective_at: snapshot.effectiveAt,
    seats: org?.seats ?? null,
    members: org?.members ?? [],
    spending_limit_nano_usd: spendingLimitOf(snapshot)?.toString() ?? null,
    disabled_providers: org?.disabledProviders ?? [],
    alert_webhook_url: snapshot.alertWebhookUrl ?? null,
    snapshot: JSON.stringify(snapshot),
  };
}

export function snapshotWriter(options: {
  clickhouse: ClickHouseClient;
  maxRows: number;
  maxWaitMs: number;
  onError(error: unknown, rows: number): void;
}): BatchWriter<SnapshotRow> {
  return new BatchWriter<SnapshotRow>({
    ...options,
    table: 'billing.account_snapshots',
    columns: COLUMNS,
  });
}

/**
 * Keeps an AccountHistory up to date from `billing.account_snapshots`: the first call loads
 * everything, later calls what was stored since (with a minute of overlap, since rows of one
 * insert share no exact time; adding a snapshot twice is harmless).
 *
 * A stored snapshot that the current decoder refuses (stored before its bounds tightened, e.g. an
 * account id outside the hub's charset, or JSON nested too deep for the history) is skipped and
 * reported through `onInvalid`: one old row must not stop every later snapshot from being read.
 */
export class AccountFactsReader {
  #since = 0;
  /** Stored snapshots skipped because the current schema refuses them. */
  skipped = 0;

  constructor(
    private readonly clickhouse: ClickHouseClient,
    readonly history: AccountHistory,
    private readonly onInvalid: (reason: string) => void = () => undefined,
  ) {}

  /** Reads the snapshots stored since the last call; returns the accounts that got a new one. */
  async refresh(): Promise<string[]> {
    const result = await this.clickhouse.query({
      query: `SELECT snapshot, toUnixTimestamp64Milli(ingested_at) AS stored_ms
              FROM billing.account_snapshots
              WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64})`,
      query_params: { since: Math.max(0, this.#since - 60_000) },
      format: 'JSONEachRow',
    });
    const changed = new Set<string>();
    for (const row of await result.json<{ snapshot: string; stored_ms: string }>()) {
      this.#since = Math.max(this.#since, Number(row.stored_ms));
      const decoded = decodeAccountSnapshot(Buffer.from(row.snapshot), Number.POSITIVE_INFINITY);
      if (!decoded.ok) {
        this.skipped++;
        this.onInvalid(decoded.reason);
        continue;
      }
      if (this.history.add(decoded.value)) changed.add(decoded.value.accountId);
    }
    return [...changed];
  }
}

export { DEFAULT_FACTS, accountMonth, planFacts, type AccountMonth } from './month.js';
