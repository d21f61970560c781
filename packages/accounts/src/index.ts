import {
  ADMIN_FIELDS,
  decodeAccountSnapshot,
  decodeOrgSettings,
  spendingLimitOf,
  type AccountSnapshot,
  type OrgSettings,
} from '@nanobill/contract';
import { BatchWriter, type ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountHistory, SnapshotOrigin } from '@nanobill/attribution';

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
  /** `hub`: stored since facts have owners (migration 0015); `legacy` rows were stored before. */
  source: SnapshotOrigin;
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
  'source',
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
    source: 'hub',
  };
}

/** One `billing.account_settings` row: an org admin's settings message. */
export interface SettingsRow {
  account_id: string;
  effective_at: string;
  fields: string[];
  spending_limit_nano_usd: string | null;
  disabled_providers: string[];
  alert_webhook_url: string | null;
  settings: string;
}

const SETTINGS_COLUMNS = [
  'account_id',
  'effective_at',
  'fields',
  'spending_limit_nano_usd',
  'disabled_providers',
  'alert_webhook_url',
  'settings',
] as const satisfies ReadonlyArray<keyof SettingsRow>;

export function settingsRow(settings: OrgSettings): SettingsRow {
  const limit = settings.spendingLimitNanoUsd;
  return {
    account_id: settings.accountId,
    effective_at: settings.effectiveAt,
    fields: ADMIN_FIELDS.filter((field) => settings[field] !== undefined),
    spending_limit_nano_usd:
      limit === undefined || limit === null ? null : BigInt(limit).toString(),
    disabled_providers: settings.disabledProviders ?? [],
    alert_webhook_url: settings.alertWebhookUrl ?? null,
    settings: JSON.stringify(settings),
  };
}

/** How a writer of account messages batches its inserts. */
export interface AccountWriterOptions {
  clickhouse: ClickHouseClient;
  maxRows: number;
  maxWaitMs: number;
  onError(error: unknown, rows: number): void;
}

export function snapshotWriter(options: AccountWriterOptions): BatchWriter<SnapshotRow> {
  return new BatchWriter({ ...options, table: 'billing.account_snapshots', columns: COLUMNS });
}

export function settingsWriter(options: AccountWriterOptions): BatchWriter<SettingsRow> {
  return new BatchWriter({
    ...options,
    table: 'billing.account_settings',
    columns: SETTINGS_COLUMNS,
  });
}

/**
 * Keeps an AccountHistory up to date from `billing.account_snapshots` (the hub's snapshots) and
 * `billing.account_settings` (the admins' settings): the first call loads everything, later calls
 * what was stored since the previous read that found rows, by ClickHouse's clock, with a minute
 * of overlap (`FACTS_READ_OVERLAP_MS`; adding a message twice is harmless). The history merges
 * them by owner.
 *
 * A stored message that the current decoder refuses (stored before its bounds tightened, e.g. an
 * account id outside the hub's charset, or JSON nested too deep for the history) is skipped and
 * reported through `onInvalid`: one old row must not stop every later snapshot from being read.
 * So is a snapshot that changes its account's kind (stored before the accounts service refused
 * those): the history sets it aside, the kind first seen holds.
 */
/**
 * How far before the previous read a refresh reads again: a row stamped (`ingested_at`, at its
 * insert) shortly before a read may become visible only after it.
 */
export const FACTS_READ_OVERLAP_MS = 60_000;

export class AccountFactsReader {
  readonly #since = { snapshots: 0, settings: 0 };
  /** Stored messages skipped because the current schema refuses them, or set aside (kind). */
  skipped = 0;

  constructor(
    private readonly clickhouse: ClickHouseClient,
    readonly history: AccountHistory,
    private readonly onInvalid: (reason: string) => void = () => undefined,
  ) {}

  /** Reads the messages stored since the last call; returns the accounts that got a new one. */
  async refresh(): Promise<string[]> {
    const changed = new Set<string>();
    for (const row of await this.#rows('snapshots', 'snapshot AS json, source')) {
      const decoded = decodeAccountSnapshot(Buffer.from(row.json), Number.POSITIVE_INFINITY);
      if (!decoded.ok) this.#skip(decoded.reason);
      else if (this.history.add(decoded.value, row.source === 'hub' ? 'hub' : 'legacy')) {
        changed.add(decoded.value.accountId);
      }
    }
    for (const row of await this.#rows('settings', 'settings AS json')) {
      const decoded = decodeOrgSettings(Buffer.from(row.json));
      if (!decoded.ok) this.#skip(decoded.reason);
      else if (this.history.addSettings(decoded.value)) changed.add(decoded.value.accountId);
    }
    for (const accountId of changed) {
      for (const snapshot of this.history.ignored(accountId)) {
        this.#skip(
          `account '${accountId}': the ${snapshot.kind} snapshot effective ${snapshot.effectiveAt} is ignored, the account is ${snapshot.kind === 'org' ? 'a user' : 'an org'}`,
        );
      }
    }
    return [...changed];
  }

  async #rows(
    table: 'snapshots' | 'settings',
    columns: string,
  ): Promise<Array<{ json: string; source?: string }>> {
    // From the previous read's time, not from the newest row's: a quiet table is then read once
    // more within the overlap and no longer (a newest row as the mark made every later refresh,
    // however quiet, read and decode again every row stored in its last minute; measured in the
    // whole-pipeline bench: the alerts service re-read 5,245 snapshots for each batch of alerts).
    const result = await this.clickhouse.query({
      query: `SELECT ${columns}, toUnixTimestamp64Milli(now64(3)) AS read_ms
              FROM billing.account_${table}
              WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64})`,
      query_params: { since: Math.max(0, this.#since[table] - FACTS_READ_OVERLAP_MS) },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ json: string; source?: string; read_ms: string }>();
    if (rows[0] !== undefined) this.#since[table] = Number(rows[0].read_ms);
    return rows;
  }

  #skip(reason: string): void {
    this.skipped++;
    this.onInvalid(reason);
  }
}

export { DEFAULT_FACTS, accountMonth, planFacts, type AccountMonth } from './month.js';
