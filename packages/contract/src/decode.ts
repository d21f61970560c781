import type { z } from 'zod';
import { AccountSnapshot, MAX_ACCOUNT_SNAPSHOT_BYTES } from './account-snapshot.js';
import { MAX_EVENT_BYTES, RoutedRequestEvent, type requestEventSchema } from './request-event.js';

/**
 * Why a message was refused: one registry for every topic nanobill decodes, so that metrics, DLQ
 * headers and runbooks share the same codes.
 */
export const REJECTION_CODES = {
  empty: 'the message has no value',
  oversized: `the message is larger than its topic allows (${MAX_EVENT_BYTES} bytes for request events, ${MAX_ACCOUNT_SNAPSHOT_BYTES} for account snapshots)`,
  not_json: 'the value is not valid UTF-8 JSON',
  unknown_provider: 'the provider is not a configured provider',
  schema_violation:
    'the message does not match its schema (RoutedRequestEvent v1, AccountSnapshot v1)',
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
  const json = decodeJson(bytes, MAX_EVENT_BYTES);
  if (!json.ok) return json;
  const parsed = schema.safeParse(json.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues;
  const unknownProvider = issues.find(
    (i) => i.path.join('.') === 'provider' && i.code === 'invalid_value',
  );
  if (unknownProvider && json.value !== null && typeof json.value === 'object') {
    const provider = JSON.stringify((json.value as Record<string, unknown>).provider);
    return reject('unknown_provider', `provider: ${provider} is not a configured provider`);
  }
  return reject('schema_violation', describeIssues(issues, '(event)'));
}

/** Bytes from `billing.accounts.v1` → a valid snapshot, or the reason it is not one (names the field). */
export function decodeAccountSnapshot(bytes: Buffer | null): Decoded<AccountSnapshot> {
  const json = decodeJson(bytes, MAX_ACCOUNT_SNAPSHOT_BYTES);
  if (!json.ok) return json;
  const parsed = AccountSnapshot.safeParse(json.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return reject('schema_violation', describeIssues(parsed.error.issues, '(snapshot)'));
}

/**
 * The steps every topic shares before its schema: a value, within the topic's size limit (checked
 * before parsing), strict UTF-8, JSON.
 */
export function decodeJson(bytes: Buffer | null, maxBytes: number): Decoded<unknown> {
  if (bytes === null || bytes.length === 0) return reject('empty', 'the message has no value');
  if (bytes.length > maxBytes) {
    return reject('oversized', `the message is ${bytes.length} bytes, more than ${maxBytes}`);
  }
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
  } catch (error) {
    return reject('not_json', `the value is not JSON: ${(error as Error).message}`);
  }
}

/** `path: message` for each issue, `whole` standing for the message itself. */
function describeIssues(issues: readonly z.core.$ZodIssue[], whole: string): string {
  return issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : whole}: ${i.message}`)
    .join('; ');
}

function reject(code: RejectionCode, reason: string): Decoded<never> {
  return { ok: false, code, reason };
}
