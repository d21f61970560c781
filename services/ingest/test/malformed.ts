import { MAX_EVENT_BYTES } from '@nanobill/contract';

/** One kind of broken event, the reason the DLQ must give for it, and a way to build it. */
export interface MalformedKind {
  kind: string;
  code: string;
  /** Each must appear in the DLQ reason: the reason names the problem. */
  reasonMentions: string[];
  build(valid: Record<string, unknown>): Buffer;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

export const MALFORMED: MalformedKind[] = [
  {
    kind: 'bad JSON',
    code: 'not_json',
    reasonMentions: ['not JSON'],
    build: (v) => Buffer.from(JSON.stringify(v).slice(0, -7)),
  },
  {
    kind: 'missing field',
    code: 'schema_violation',
    reasonMentions: ['requestId'],
    build: ({ requestId: _dropped, ...rest }) => json(rest),
  },
  {
    kind: 'wrong type',
    code: 'schema_violation',
    reasonMentions: ['status', 'number'],
    build: (v) => json({ ...v, status: 'OK' }),
  },
  {
    kind: 'unknown provider',
    code: 'unknown_provider',
    reasonMentions: ['provider', 'acme-ai'],
    build: (v) => json({ ...v, provider: 'acme-ai' }),
  },
  {
    kind: 'negative tokens',
    code: 'schema_violation',
    reasonMentions: ['usage.inputTokens'],
    build: (v) => json({ ...v, usage: { inputTokens: -5, outputTokens: 10 } }),
  },
  {
    kind: 'oversized message',
    code: 'oversized',
    reasonMentions: [`${MAX_EVENT_BYTES}`],
    build: (v) => json({ ...v, padding: 'x'.repeat(MAX_EVENT_BYTES) }),
  },
];
