import Fastify, { type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { ComponentHealth } from './health.js';
import type { Logger } from './logger.js';

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  logger: Logger;
  /** Each check names a dependency; `/readyz` is 503 while any of them fails or hangs. */
  readiness: Record<string, () => Promise<void>>;
  /** A check that has not answered by then counts as failed (clients retry a dead broker long). */
  readinessTimeoutMs?: number;
  /** What the process's own components report (e.g. a Kafka consumer being restarted). */
  components?: ComponentHealth;
  /** Routes of the services in this process (e.g. the API), served on the same port. */
  routes?: FastifyPluginAsync[];
}

/** `/metrics` (Prometheus), `/healthz` (the process is up) and `/readyz` (its dependencies are). */
export async function startOpsServer(
  options: OpsServerOptions,
): Promise<{ close(): Promise<void> }> {
  const app = Fastify({
    // Account ids run to 256 characters (the contract); the default allows 100 per parameter.
    routerOptions: { maxParamLength: 512 },
    loggerInstance: options.logger.child({ component: 'http' }),
  });
  for (const routes of options.routes ?? []) await app.register(routes);
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
  return { close: () => app.close() };
}
