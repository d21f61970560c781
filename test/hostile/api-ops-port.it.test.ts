import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@nanobill/config';
import { quietLogger, tempDir, testBrokers } from '@nanobill/testkit';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';

// The operations endpoints (metrics describe the business; readiness names internal failures)
// are not on the public API port: `nanobill run` serves them on NANOBILL_OPS_PORT, and the API
// port only when the api service runs. Real pipeline, shared broker, embedded ClickHouse.

const OPS_PATHS = ['/metrics', '/healthz', '/readyz'];
const dataDir = tempDir('nanobill-ops-port-');

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe('hostile: operations endpoints off the API port', () => {
  let pipeline: Pipeline | undefined;

  afterAll(async () => {
    await pipeline?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 404 for /metrics, /healthz and /readyz on the API port, and serves them on the ops port', async () => {
    const config = loadConfig({
      KAFKA_BROKERS: testBrokers().join(','),
      NANOBILL_DATA_DIR: dataDir,
      PORT: '0',
      NANOBILL_OPS_PORT: '0',
    });
    pipeline = await startPipeline({ config, logger: quietLogger(), only: ['api'] });
    const { api, ops } = pipeline.ports;
    expect(api).toBeDefined();
    expect(ops).not.toBe(api);
    for (const path of OPS_PATHS) {
      expect(await status(api!, path), `API port ${path}`).toBe(404);
      expect(await status(ops, path), `ops port ${path}`).toBe(200);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
    expect(metrics).toContain('nanobill_process_resident_memory_bytes');
    // And the API is not on the ops port.
    expect(await status(api!, '/docs/json')).toBe(200);
    expect(await status(ops, '/docs/json')).toBe(404);
    expect(await status(ops, '/v1/accounts/acme/status')).toBe(404);
    await pipeline.stop();
    pipeline = undefined;
  });

  it('listens on no API port in a process without the api service', async () => {
    const config = loadConfig({
      KAFKA_BROKERS: testBrokers().join(','),
      NANOBILL_DATA_DIR: dataDir,
      PORT: '0',
      NANOBILL_OPS_PORT: '0',
    });
    pipeline = await startPipeline({ config, logger: quietLogger(), only: ['statements'] });
    expect(pipeline.ports.api).toBeUndefined();
    expect(await status(pipeline.ports.ops, '/readyz')).toBe(200);
  });

  it('refuses an ops port equal to PORT (the separation is not configurable away)', () => {
    expect(() => loadConfig({ PORT: '8080', NANOBILL_OPS_PORT: '8080' })).toThrow(
      'NANOBILL_OPS_PORT',
    );
  });
});
