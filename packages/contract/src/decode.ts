import type { z } from 'zod';
import { MAX_EVENT_BYTES, RoutedRequestEvent, type requestEventSchema } from './request-event.js';

/**
 * Why an event was refused: one registry, so that metrics, DLQ headers and runbooks share the
 * same codes.
 */
export const REJECTION_CODES = {
  empty: 'the message has no value',
  oversized: `the message is larger than ${MAX_EVENT_BYTES} bytes`,
  not_json: 'the value is not valid UTF-8 JSON',
  unknown_provider: 'the provider is not a configured provider',
  schema_violation: 'the event does not match RoutedRequestEvent v1',
} as const;

export type RejectionCode = keyof typeof REJECTION_CODES;

export type Decoded<T> =
  { ok: true; value: T } | { ok: false; code: RejectionCode; reason: string };

type Schema = ReturnType<typeof requestEventSchema>;

/** Bytes from Kafka → a valid event, or the reason it is not one (names the field). */
export function decodeRequestEvent(
  bytes: Buffer | null,
  schema: Schema = RoutedRequestEvent,
): Decoded<z.infer<Schema>> {
  if (bytes === null || bytes.length === 0) return reject('empty', 'the message has no value');
  if (bytes.length > MAX_EVENT_BYTES) {
    return reject(
      'oversized',
      `the message is ${bytes.length} bytes, more than ${MAX_EVENT_BYTES}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return reject('not_json', `the value is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues;
  const unknownProvider = issues.find(
    (i) => i.path.join('.') === 'provider' && i.code === 'invalid_value',
  );
  if (unknownProvider && json !== null && typeof json === 'object') {
    const provider = JSON.stringify((json as Record<string, unknown>).provider);
    return reject('unknown_provider', `provider: ${provider} is not a configured provider`);
  }
  const reason = issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(event)'}: ${i.message}`)
    .join('; ');
  return reject('schema_violation', reason);
}

function reject(code: RejectionCode, reason: string): Decoded<never> {
  return { ok: false, code, reason };
}
