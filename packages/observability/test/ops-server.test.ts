import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry, startOpsServer } from '../src/index.js';

const logger = createLogger({ level: 'silent' });
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function readyz(readiness: Record<string, () => Promise<void>>) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  servers.push(
    await startOpsServer({
      port,
      registry: createMetricsRegistry(),
      logger,
      readiness,
      readinessTimeoutMs: 100,
    }),
  );
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as unknown };
}

describe('/readyz', () => {
  it('is 200 when every dependency answers', async () => {
    expect(await readyz({ clickhouse: async () => {}, kafka: async () => {} })).toEqual({
      status: 200,
      body: { status: 'ready', checks: { clickhouse: 'ok', kafka: 'ok' } },
    });
  });

  it('is 503 naming the dependency that fails, and why', async () => {
    expect(
      await readyz({
        clickhouse: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
        },
        kafka: async () => {},
      }),
    ).toEqual({
      status: 503,
      body: {
        status: 'not ready',
        checks: { clickhouse: 'connect ECONNREFUSED 127.0.0.1:8123', kafka: 'ok' },
      },
    });
  });

  it('is 503 when a dependency hangs, without waiting for it', async () => {
    const result = await readyz({ kafka: () => new Promise(() => {}) });
    expect(result).toEqual({
      status: 503,
      body: { status: 'not ready', checks: { kafka: 'no answer within 100 ms' } },
    });
  });
});
