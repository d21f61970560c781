import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthBounds } from '@nanobill/credits';
import type { EstimateRequest } from '@nanobill/enforcement';

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
  const result = await clickhouse.query({
    query: `SELECT provider, assumeNotNull(provider_request_id) AS id, user_id, bill_to,
                   toUnixTimestamp64Milli(event_time), model, provider_model_id,
                   input_tokens, output_tokens, compute_time_ms, hardware
            FROM billing.usage
            WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64})
              AND event_time >= fromUnixTimestamp64Milli({monthStart:Int64})
              AND billing_mode = 'routed' AND provider_request_id IS NOT NULL
              AND (provider, id) NOT IN (
                SELECT provider, provider_request_id FROM billing.ledger_entries
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)
              AND (provider, id) NOT IN (
                SELECT provider, provider_request_id FROM billing.unpriced_entries
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)
              AND request_id NOT IN (
                SELECT request_id FROM billing.pricing_duplicates
                WHERE event_time >= fromUnixTimestamp64Milli({since:Int64}) - INTERVAL 1 DAY)`,
    query_params: { since: sinceMs, monthStart: monthBounds(month).start.getTime() },
    format: 'JSONCompactEachRow',
  });
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
  return (await result.json<Raw>()).map(
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
