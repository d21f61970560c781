import { z } from 'zod';
import { DEFAULT_PROVIDERS } from './providers.js';

/** Larger messages are rejected before parsing: the router never needs more for one request. */
export const MAX_EVENT_BYTES = 64 * 1024;

const id = z.string().min(1).max(256);
const tokenCount = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * `RoutedRequestEvent` v1 exactly as PRODUCT.md §2 lists it. Unknown extra fields are kept
 * (`loose`) so that a newer router does not lose data on an older nanobill.
 */
export function requestEventSchema(providers: readonly string[] = DEFAULT_PROVIDERS) {
  const [first, ...rest] = providers;
  if (first === undefined) throw new Error('the provider list is empty');
  return z
    .looseObject({
      schemaVersion: z.literal(1),
      requestId: id,
      timestamp: z.iso.datetime({ offset: false, precision: undefined }),
      userId: id,
      billTo: id.optional(),
      provider: z.enum([first, ...rest]),
      model: id,
      providerModelId: id.optional(),
      task: z.string().min(1).max(64),
      billingMode: z.enum(['routed', 'custom_key']),
      providerRequestId: id.optional(),
      status: z.int().min(100).max(599),
      usage: z.object({ inputTokens: tokenCount, outputTokens: tokenCount }).optional(),
      computeTimeMs: z.int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
      hardware: z.string().min(1).max(64).optional(),
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
