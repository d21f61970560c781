import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_EVENT_BYTES,
  RoutedRequestEvent,
  decodeRequestEvent,
  requestEventSchema,
} from '../src/index.js';

const valid = {
  schemaVersion: 1,
  requestId: 'req-1',
  timestamp: '2026-11-25T12:00:00.123Z',
  userId: 'user-1',
  provider: 'groq',
  model: 'openai/gpt-oss-120b',
  task: 'conversational',
  billingMode: 'routed',
  providerRequestId: 'groq-abc',
  status: 200,
  usage: { inputTokens: 12, outputTokens: 345 },
};
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('decodeRequestEvent', () => {
  it('accepts a valid event and keeps unknown extra fields', () => {
    const decoded = decodeRequestEvent(bytes({ ...valid, routerRegion: 'eu' }));
    expect(decoded).toEqual({ ok: true, value: { ...valid, routerRegion: 'eu' } });
  });

  it.each([
    ['empty', null, 'empty', 'no value'],
    ['oversized', Buffer.alloc(MAX_EVENT_BYTES + 1, 32), 'oversized', String(MAX_EVENT_BYTES)],
    ['not JSON', Buffer.from('{"schemaVersion":1,'), 'not_json', 'not JSON'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'not_json', 'not JSON'],
    [
      'missing requestId',
      bytes({ ...valid, requestId: undefined }),
      'schema_violation',
      'requestId',
    ],
    ['status as a string', bytes({ ...valid, status: '200' }), 'schema_violation', 'status'],
    ['unknown provider', bytes({ ...valid, provider: 'acme' }), 'unknown_provider', '"acme"'],
    [
      'negative tokens',
      bytes({ ...valid, usage: { inputTokens: -1, outputTokens: 1 } }),
      'schema_violation',
      'usage.inputTokens',
    ],
    [
      'fractional tokens',
      bytes({ ...valid, usage: { inputTokens: 1.5, outputTokens: 1 } }),
      'schema_violation',
      'usage.inputTokens',
    ],
    [
      'schema version 2',
      bytes({ ...valid, schemaVersion: 2 }),
      'schema_violation',
      'schemaVersion',
    ],
    [
      'a local-time timestamp',
      bytes({ ...valid, timestamp: '2026-11-25T12:00:00+02:00' }),
      'schema_violation',
      'timestamp',
    ],
    [
      'unknown billing mode',
      bytes({ ...valid, billingMode: 'free' }),
      'schema_violation',
      'billingMode',
    ],
    [
      'compute time without hardware',
      bytes({ ...valid, computeTimeMs: 10 }),
      'schema_violation',
      'computeTimeMs',
    ],
    ['an array', bytes([valid]), 'schema_violation', '(event)'],
  ])('rejects %s with a reason that names the problem', (_name, input, code, mention) => {
    const decoded = decodeRequestEvent(input as Buffer | null);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.code).toBe(code);
    expect(decoded.reason).toContain(mention);
  });

  it('accepts the configured providers only', () => {
    const schema = requestEventSchema(['my-provider']);
    expect(decodeRequestEvent(bytes({ ...valid, provider: 'my-provider' }), schema).ok).toBe(true);
    expect(decodeRequestEvent(bytes(valid), schema).ok).toBe(false);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (input) => {
        const decoded = decodeRequestEvent(Buffer.from(input));
        return decoded.ok
          ? RoutedRequestEvent.safeParse(decoded.value).success
          : decoded.reason.length > 0;
      }),
    );
  });
});
