import { REQUEST_EVENT_FIELDS, type RoutedRequestEvent } from '@nanobill/contract';

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
