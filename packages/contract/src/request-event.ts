import { z } from 'zod';
import { accountId, text, UINT32_MAX, utcInstant } from './bounds.js';
import { DEFAULT_PROVIDERS } from './providers.js';

/** Larger messages are rejected before parsing: the router never needs more for one request. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** Longest id (request ids, model ids, provider ids, `billTo` as sent): far above real ones. */
export const MAX_ID_LENGTH = 256;
/** Longest pipeline tag or hardware name. */
export const MAX_TAG_LENGTH = 64;

const id = text(MAX_ID_LENGTH);
const tag = text(MAX_TAG_LENGTH);
/**
 * Compute times: safe integers, which fit `UInt64` (`billing.usage`) and are read back exactly
 * as JS numbers (a cost above its ceiling is unpriced, see the providers file).
 */
const count = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/**
 * Token counts of one request: at most 2^32 − 1, thousands of times any model's context. Bounded
 * so that no sum of them can wrap: the rollups add them in `UInt64` per account, hour and key,
 * which 2^32 such requests would take to overflow.
 */
const tokenCount = z.int().nonnegative().max(UINT32_MAX);

/**
 * `RoutedRequestEvent` v1 exactly as docs/contract.md §2 lists it. Unknown extra fields are kept
 * (`loose`) so that a newer router does not lose data on an older nanobill. Every field is bounded
 * by the column that stores it (`bounds.ts`); `userId` is an account id (docs/contract.md §5).
 * `billTo` is kept as sent: one that is not a valid org name bills the user (attribution), it is
 * not bad input. The timestamp window is checked by `requestEventDecoder`, not here: it depends on
 * when the message reached Kafka.
 */
export function requestEventSchema(providers: readonly string[] = DEFAULT_PROVIDERS) {
  const [first, ...rest] = providers;
  if (first === undefined) throw new Error('the provider list is empty');
  return z
    .looseObject({
      schemaVersion: z.literal(1),
      requestId: id,
      timestamp: utcInstant,
      userId: accountId,
      billTo: id.optional(),
      provider: z.enum([first, ...rest]),
      model: id,
      providerModelId: id.optional(),
      task: tag,
      billingMode: z.enum(['routed', 'custom_key']),
      providerRequestId: id.optional(),
      status: z.int().min(100).max(599),
      usage: z.object({ inputTokens: tokenCount, outputTokens: tokenCount }).optional(),
      computeTimeMs: count.optional(),
      hardware: tag.optional(),
    })
    .refine((e) => (e.computeTimeMs === undefined) === (e.hardware === undefined), {
      message: 'computeTimeMs and hardware come together',
      path: ['computeTimeMs'],
    });
}

export const RoutedRequestEvent = requestEventSchema();

/** The fields v1 defines; anything else on an event is a forward-compatible extra. */
export const REQUEST_EVENT_FIELDS: ReadonlySet<string> = new Set(
  Object.keys(RoutedRequestEvent.shape),
);
export type RoutedRequestEvent = z.infer<typeof RoutedRequestEvent>;
