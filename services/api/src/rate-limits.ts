import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeIP, type CreateRateLimitOptions } from '@fastify/rate-limit';

/**
 * Counters kept per limiter (addresses or tokens), least recently used dropped past it. An
 * attacker with more addresses than this can reset counters by eviction: the per-address limit
 * slows one source, it is not a defence against a distributed flood (the bounded token lookups
 * protect ClickHouse from that).
 */
export const RATE_LIMIT_MAX_KEYS = 10_000;

/** The client's address as the limits count it: IPv6 by /64, as the plugin does by default. */
export const addressKey = (request: FastifyRequest) => `address:${normalizeIP(request.ip)}`;

/**
 * An onRequest hook of `@fastify/rate-limit` (registered on the server) that answers 429 with
 * Retry-After once `keyOf` has made more than `max` requests in the window. A hook of the
 * instance, not of each route: it runs in the order it is added, e.g. before or after
 * authentication.
 */
export function limitedBy(
  app: Pick<FastifyInstance, 'createRateLimit'>,
  limit: { max: number; timeWindowMs: number; keyOf: (request: FastifyRequest) => string },
  what: string,
) {
  const limiter = app.createRateLimit({
    max: limit.max,
    timeWindow: limit.timeWindowMs,
    keyGenerator: limit.keyOf,
    // Read by the plugin's store (its size); missing from its type for this function.
    cache: RATE_LIMIT_MAX_KEYS,
  } as CreateRateLimitOptions);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const result = await limiter(request);
    if (result.isAllowed || !result.isExceeded) return;
    return reply
      .code(429)
      .header('retry-after', String(result.ttlInSeconds))
      .send({ error: `too many requests ${what}: retry in ${result.ttlInSeconds} s` });
  };
}
