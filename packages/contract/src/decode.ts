import type { z } from 'zod';
import { AccountSnapshot, MAX_ACCOUNT_SNAPSHOT_BYTES, OrgSettings } from './account-snapshot.js';
import { DEFAULT_PROVIDERS } from './providers.js';
import { MAX_EVENT_BYTES, RoutedRequestEvent, requestEventSchema } from './request-event.js';

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
    'the message does not match its schema (RoutedRequestEvent v1, AccountSnapshot v1, OrgSettings v1)',
  kind_change:
    "the account snapshot changes the account's kind (user ↔ org), which an account id never does",
  out_of_window:
    "the event's timestamp is outside the accepted window around the time the message reached Kafka (default: 35 days back, 5 minutes ahead)",
  storage_refused:
    'valid, but ClickHouse refused the row (its error code, name and message are in the reason); replay once the table accepts it',
} as const;

export type RejectionCode = keyof typeof REJECTION_CODES;

/**
 * One message decoded: its value, or why it is refused (a code of `REJECTION_CODES` and a reason
 * precise enough to fix the producer), as the DLQ records it.
 */
export type Decoded<T> =
  { ok: true; value: T } | { ok: false; code: RejectionCode; reason: string };

type Schema = ReturnType<typeof requestEventSchema>;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * How far an event's `timestamp` may be from the instant its message reached Kafka
 * (docs/contract.md §2): older or further ahead is bad input. Both bounds are inclusive.
 */
export interface EventWindow {
  maxAgeMs: number;
  maxAheadMs: number;
}

/** 35 days back (a month and its stragglers), 5 minutes ahead (clock skew). */
export const DEFAULT_EVENT_WINDOW: EventWindow = { maxAgeMs: 35 * DAY_MS, maxAheadMs: 5 * 60_000 };

/** Widest window either way: a century, far inside what a JS Date can represent. */
export const MAX_EVENT_WINDOW_MS = 36_525 * DAY_MS;

function checkWindow(window: EventWindow): EventWindow {
  for (const [name, ms] of Object.entries(window)) {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_EVENT_WINDOW_MS) {
      throw new RangeError(
        `event window ${name} must be 0 to ${MAX_EVENT_WINDOW_MS} ms, got ${ms}`,
      );
    }
  }
  return window;
}

/** What the decoder needs of a Kafka message: its bytes and its timestamp (ms, as kafkajs gives it). */
export interface RequestMessage {
  value: Buffer | null;
  timestamp?: string;
}

/**
 * The one decoder of `inference.requests.v1`: ingest, pricing and enforcement all use it, so an
 * event one of them dead-letters is ignored by the others. The window's reference is the
 * message's Kafka timestamp, not the consumer's clock: every consumer, however late it reads the
 * message, takes the same decision. nanobill creates the topic with
 * `message.timestamp.type=LogAppendTime`, so that timestamp is the broker's clock; a message
 * without one (-1) is measured against this process's clock. A replay re-produces the message:
 * it gets a new timestamp, and an event older than the window by then is refused again.
 */
export function requestEventDecoder(
  options: { providers?: readonly string[]; window?: EventWindow; now?: () => number } = {},
): (message: RequestMessage) => Decoded<z.infer<Schema>> {
  const schema = requestEventSchema(options.providers ?? DEFAULT_PROVIDERS);
  const window = checkWindow(options.window ?? DEFAULT_EVENT_WINDOW);
  const now = options.now ?? Date.now;
  return (message) => {
    const decoded = decodeRequestEvent(message.value, schema);
    if (!decoded.ok) return decoded;
    const kafkaMs = Number(message.timestamp);
    const reference = Number.isSafeInteger(kafkaMs) && kafkaMs >= 0 ? kafkaMs : now();
    const problem = outsideWindow(decoded.value.timestamp, reference, window);
    return problem === undefined ? decoded : reject('out_of_window', problem);
  };
}

/** Why `timestamp` is outside the window around `referenceMs`, or undefined when inside. */
export function outsideWindow(
  timestamp: string,
  referenceMs: number,
  window: EventWindow,
): string | undefined {
  const ms = Date.parse(timestamp);
  const earliest = referenceMs - window.maxAgeMs;
  const latest = referenceMs + window.maxAheadMs;
  if (ms >= earliest && ms <= latest) return undefined;
  const bounds = `${instantText(earliest)} .. ${instantText(latest)}`;
  return `timestamp: ${timestamp} is outside the accepted window ${bounds} (${window.maxAgeMs} ms back, ${window.maxAheadMs} ms ahead of the message's Kafka time ${instantText(referenceMs)})`;
}

/** ISO-8601 when a JS Date can hold the instant (a forged Kafka timestamp may not), else ms. */
function instantText(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

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
export function decodeAccountSnapshot(
  bytes: Buffer | null,
  /** The topic's limit; a stored snapshot (re-serialized, e.g. `1e20` spelled out) may exceed it. */
  maxBytes = MAX_ACCOUNT_SNAPSHOT_BYTES,
): Decoded<AccountSnapshot> {
  const json = decodeJson(bytes, maxBytes);
  return json.ok ? parseAs(AccountSnapshot, json.value, '(snapshot)') : json;
}

/** A message of `billing.accounts.v1`: the hub's snapshot, or settings an org admin changed. */
export type AccountMessage =
  { type: 'snapshot'; snapshot: AccountSnapshot } | { type: 'settings'; settings: OrgSettings };

/**
 * Bytes from `billing.accounts.v1` → a valid message, or the reason it is not one. A message with
 * `source: "admin"` is an `OrgSettings`; any other is an `AccountSnapshot` (the hub's messages
 * carry no source).
 */
export function decodeAccountMessage(
  bytes: Buffer | null,
  maxBytes = MAX_ACCOUNT_SNAPSHOT_BYTES,
): Decoded<AccountMessage> {
  const json = decodeJson(bytes, maxBytes);
  if (!json.ok) return json;
  const value = json.value as { source?: unknown } | null;
  if (value !== null && typeof value === 'object' && value.source === 'admin') {
    const settings = parseAs(OrgSettings, value, '(settings)');
    return settings.ok
      ? { ok: true, value: { type: 'settings', settings: settings.value } }
      : settings;
  }
  const snapshot = parseAs(AccountSnapshot, value, '(snapshot)');
  return snapshot.ok
    ? { ok: true, value: { type: 'snapshot', snapshot: snapshot.value } }
    : snapshot;
}

/** A stored settings message (`billing.account_settings.settings`) → valid settings, or why not. */
export function decodeOrgSettings(bytes: Buffer | null): Decoded<OrgSettings> {
  const json = decodeJson(bytes, Number.POSITIVE_INFINITY);
  return json.ok ? parseAs(OrgSettings, json.value, '(settings)') : json;
}

/** `value` checked against `schema`; a `schema_violation` naming each field otherwise. */
function parseAs<T>(schema: z.ZodType<T>, value: unknown, whole: string): Decoded<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return reject('schema_violation', describeIssues(parsed.error.issues, whole));
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
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return reject('not_json', `the value is not JSON: ${(error as Error).message}`);
  }
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    return reject('schema_violation', `(message): nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return { ok: true, value };
}

/**
 * Deepest nesting of objects and arrays a message may have (the contract needs 2; unknown fields
 * get room). Within the size limit JSON can nest half a million levels, which JSON.parse takes
 * but recursive readers do not: JSON.stringify with a replacer (the account history's canonical
 * form) overflows the stack on it, at every read of the stored snapshot.
 */
export const MAX_JSON_DEPTH = 64;

/** Iterative, so that the check itself cannot overflow the stack. */
function nestedDeeperThan(root: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, depth } = next;
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(value)) stack.push({ value: child, depth: depth + 1 });
  }
  return false;
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
