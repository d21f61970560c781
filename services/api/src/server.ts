import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from '@nanobill/observability';
import {
  apiRoutes,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_RATE_LIMITS,
  type ApiOptions,
} from './api.js';
import { addressKey, limitedBy } from './rate-limits.js';

export type ApiServerOptions = ApiOptions &
  ServerSettings & {
    /** `PORT`; 0: any free port (see `port` of the result). */
    port: number;
    host?: string;
  };

interface ServerSettings {
  logger: Logger;
  /**
   * Load balancers (addresses or CIDR ranges) whose X-Forwarded-For names the client. Default
   * none: the header is ignored and the client is the connection's address.
   */
  trustProxy?: readonly string[];
}

/** A client sending its request slower than this is cut off (slow-body senders hold sockets). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The API and dashboard alone on their port (the operations endpoints are on the ops server).
 * Every request, authenticated or not, first counts against its client address.
 */
export async function startApiServer(
  options: ApiServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const app = await buildApiServer(options);
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

/**
 * The server `startApiServer` listens with, ready but not listening: tests answer requests with
 * `app.inject()`, through every hook, limit and serializer, without a socket.
 */
export async function buildApiServer(options: ApiOptions & ServerSettings) {
  const app = Fastify({
    // Account ids run to 256 characters (the contract); the default allows 100 per parameter.
    routerOptions: { maxParamLength: 512 },
    loggerInstance: options.logger.child({ component: 'api' }),
    trustProxy: options.trustProxy === undefined ? false : [...options.trustProxy],
    bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
  });
  const limits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimit };
  // global: false: the limits are hooks added where they belong, not per-route hooks (which
  // would run after authentication).
  await app.register(rateLimit, { global: false });
  app.addHook(
    'onRequest',
    limitedBy(
      app,
      { max: limits.perAddress, timeWindowMs: limits.timeWindowMs, keyOf: addressKey },
      'from this address',
    ),
  );
  await app.register(apiRoutes(options));
  await app.ready();
  return app;
}
