/**
 * billing.usage, one row per routed request. Owner: the ingest service, its only writer
 * (services/ingest/src/usage-writer.ts). The enforcement service reads it at start-up through
 * `unpricedUsage`.
 */
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { readRows } from './read.js';
import { monthBounds } from '@nanobill/calendar';
import type { EstimateRequest } from '@nanobill/enforcement';
import { DUPLICATES_TABLE, LEDGER_TABLE, UNPRICED_TABLE } from './pricing.js';

export const USAGE_TABLE = 'billing.usage';

/** One `billing.usage` row, as JSONEachRow sends it. */
export interface UsageRow {
  request_id: string;
  event_time: string;
  user_id: string;
  bill_to: string | null;
  provider: string;
  model: string;
  provider_model_id: string | null;
  task: string;
  billing_mode: 'routed' | 'custom_key';
  provider_request_id: string | null;
  status: number;
  input_tokens: number | null;
  output_tokens: number | null;
  compute_time_ms: number | null;
  hardware: string | null;
  extra: string;
  schema_version: number;
  source_partition: number;
  source_offset: string;
}

export const USAGE_COLUMNS = [
  'request_id',
  'event_time',
  'user_id',
  'bill_to',
  'provider',
  'model',
  'provider_model_id',
  'task',
  'billing_mode',
  'provider_request_id',
  'status',
  'input_tokens',
  'output_tokens',
  'compute_time_ms',
  'hardware',
  'extra',
  'schema_version',
  'source_partition',
  'source_offset',
] as const satisfies ReadonlyArray<keyof UsageRow>;

/** A stored request that the ledger has no cost for yet. */
export interface UnpricedUsage extends EstimateRequest {
  providerRequestId: string;
  userId: string;
  billTo: string | null;
  timestamp: string;
}

/**
 * Requests of `month` that billing.usage stored since `sinceMs`, neither priced (ledger), given
 * up on (unpriced) nor quarantined for reusing another request's provider request id (by request
 * id: the key is the other request's): the estimates a restart must not lose (their Kafka
 * offsets were committed before it). Read once at start-up; the ledger, unpriced and quarantine
 * sides are bounded to the same days.
 */
export async function unpricedUsage(
  clickhouse: ClickHouseClient,
  month: string,
  sinceMs: number,
): Promise<UnpricedUsage[]> {
  const rows = await readRows<Raw>(
    clickhouse,
    `SELECT provider, assumeNotNull(provider_request_id) AS id, user_id, bill_to,
                   toUnixTimestamp64Milli(event_time), model, provider_model_id,
                   input_tokens, output_tokens, compute_time_ms, hardware
            FROM ${USAGE_TABLE}
            WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64})
              AND event_time >= fromUnixTimestamp64Milli({monthStart:Int64})
              AND billing_mode = 'routed' AND provider_request_id IS NOT NULL
              AND (provider, id) NOT IN (
                SELECT provider, provider_request_id FROM ${LEDGER_TABLE}
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)
              AND (provider, id) NOT IN (
                SELECT provider, provider_request_id FROM ${UNPRICED_TABLE}
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)
              AND request_id NOT IN (
                SELECT request_id FROM ${DUPLICATES_TABLE}
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)`,
    { since: sinceMs, monthStart: monthBounds(month).start.getTime() },
  );
  type Raw = [
    string,
    string,
    string,
    string | null,
    string,
    string,
    string | null,
    string | null,
    string | null,
    string | null,
    string | null,
  ];
  return rows.map(
    ([provider, id, userId, billTo, ms, model, providerModelId, input, output, compute, hw]) => ({
      provider,
      providerRequestId: id,
      userId,
      billTo,
      timestamp: new Date(Number(ms)).toISOString(),
      model,
      ...(providerModelId === null ? {} : { providerModelId }),
      ...(input === null || output === null
        ? {}
        : { usage: { inputTokens: Number(input), outputTokens: Number(output) } }),
      ...(compute === null || hw === null ? {} : { computeTimeMs: Number(compute), hardware: hw }),
    }),
  );
}
