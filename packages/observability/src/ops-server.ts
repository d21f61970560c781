import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { ComponentHealth } from './health.js';
import type { Logger } from './logger.js';

export interface OpsServerOptions {
  /** `NANOBILL_OPS_PORT`; 0: any free port (see `port` of the result). */
  port: number;
  /** Default 127.0.0.1: readiness names internal failures, metrics describe the business. */
  host?: string;
  registry: Registry;
  logger: Logger;
  /** Each check names a dependency; `/readyz` is 503 while any of them fails or hangs. */
  readiness: Record<string, () => Promise<void>>;
  /** A check that has not answered by then counts as failed (clients retry a dead broker long). */
  readinessTimeoutMs?: number;
  /** What the process's own components report (e.g. a Kafka consumer being restarted). */
  components?: ComponentHealth;
}

/**
 * `/metrics` (Prometheus), `/healthz` (the process is up) and `/readyz` (its dependencies are),
 * on a port of their own: every `nanobill run` process serves them, and nothing else (the API
 * has its own server on `PORT`).
 */
export async function startOpsServer(
  options: OpsServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'ops' }) });
  // Scraped and probed every few seconds: only their problems are worth a log line.
  const quiet = { logLevel: 'warn' } as const;
  app.get('/metrics', quiet, async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  app.get('/healthz', quiet, async () => ({ status: 'ok' }));
  app.get('/readyz', quiet, async (_request, reply) => {
    const checks = await Promise.all(
      Object.entries(options.readiness).map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        const timeoutMs = options.readinessTimeoutMs ?? 2_000;
        try {
          await Promise.race([
            check(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`no answer within ${timeoutMs} ms`)),
                timeoutMs,
              );
            }),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, (error as Error).message] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const all = [...checks, ...(options.components?.problems() ?? [])];
    const ready = all.every(([, state]) => state === 'ok');
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(all) };
  });
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}
