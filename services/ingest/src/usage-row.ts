import { REQUEST_EVENT_FIELDS, type RoutedRequestEvent } from '@nanobill/contract';
import type { UsageRow } from '@nanobill/tables';

/** Builds billing.usage rows (their type: @nanobill/tables, owned by ingest). */

export function toUsageRow(
  event: RoutedRequestEvent,
  source: { partition: number; offset: string },
): UsageRow {
  return {
    request_id: event.requestId,
    event_time: event.timestamp,
    user_id: event.userId,
    bill_to: event.billTo ?? null,
    provider: event.provider,
    model: event.model,
    provider_model_id: event.providerModelId ?? null,
    task: event.task,
    billing_mode: event.billingMode,
    provider_request_id: event.providerRequestId ?? null,
    status: event.status,
    input_tokens: event.usage?.inputTokens ?? null,
    output_tokens: event.usage?.outputTokens ?? null,
    compute_time_ms: event.computeTimeMs ?? null,
    hardware: event.hardware ?? null,
    extra: JSON.stringify(extraFields(event)),
    schema_version: event.schemaVersion,
    source_partition: source.partition,
    source_offset: source.offset,
  };
}

function extraFields(event: Record<string, unknown>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (!REQUEST_EVENT_FIELDS.has(key)) extra[key] = value;
  }
  return extra;
}
