import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountStatus } from '@nanobill/contract';
import { ensureTopics } from '@nanobill/kafka';
import { createMetricsRegistry, startOpsServer } from '@nanobill/observability';
import {
  freePortPair,
  produce,
  quietLogger,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startStatusView, statusRoutes, type StatusView } from '../src/index.js';

function status(accountId: string, value: AccountStatus['status'], spend: string): AccountStatus {
  return {
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    month: '2026-11',
    status: value,
    reason: `${value}: month-to-date spend`,
    basis: 'spending_limit',
    spendNanoUsd: spend,
    pricedNanoUsd: '0',
    estimatedNanoUsd: spend,
    limitNanoUsd: '1000000000',
    disabledProviders: ['replicate'],
    updatedAt: '2026-11-25T12:00:00.000Z',
  };
}

describe('GET /v1/accounts/{id}/status, from the compacted status topic (real broker)', () => {
  const kafka = testKafka();
  const topic = uniqueName('it-status');
  let server: { close(): Promise<void> };
  let base: string;
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return { statusCode: response.status, headers: response.headers, body: await response.json() };
  };
  let view: StatusView;
  const send = (statuses: AccountStatus[]) =>
    produce(
      kafka,
      topic,
      statuses.map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
    );

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic, numPartitions: 2, configs: { 'cleanup.policy': 'compact' } },
    ]);
    // Published before the view starts: read back at start-up.
    await send([status('acme', 'ok', '10'), status('acme', 'warning', '800000000')]);
    await produce(kafka, topic, [{ key: 'broken', value: 'not json' }]);
    view = await startStatusView({ kafka, topic, logger: quietLogger() });
    await view.ready;
    // The same server as `nanobill run` composes: the API routes beside /metrics and health.
    const port = await freePortPair();
    server = await startOpsServer({
      port,
      registry: createMetricsRegistry(),
      logger: quietLogger(),
      readiness: {},
      routes: [statusRoutes(view)],
    });
    base = `http://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await view?.stop();
  });

  it('serves the latest status of an account, amounts as strings', async () => {
    const response = await get('/v1/accounts/acme/status');
    expect(response.statusCode).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toEqual(status('acme', 'warning', '800000000'));
  });

  it('follows the topic: a new status is served as soon as it is consumed', async () => {
    await send([status('acme', 'blocked', '1000000000')]);
    const latest = await waitFor('the blocked status', async () => {
      const body = (await get('/v1/accounts/acme/status')).body as AccountStatus;
      return body.status === 'blocked' ? body : undefined;
    });
    expect(latest.spendNanoUsd).toBe('1000000000');
  });

  it('answers 404 for an account without a status, and for a record that is not a status', async () => {
    for (const id of ['nobody', 'broken']) {
      const response = await get(`/v1/accounts/${id}/status`);
      expect(response.statusCode).toBe(404);
      expect(response.body).toMatchObject({ status: null });
    }
  });

  it('answers 400 naming the field for an id that cannot be an account', async () => {
    const response = await get(`/v1/accounts/${'x'.repeat(300)}/status`);
    expect(response.statusCode).toBe(400);
    expect(response.body).toMatchObject({ field: 'id' });
    // 256 characters, the longest account id, is a lookup like any other.
    expect((await get(`/v1/accounts/${'x'.repeat(256)}/status`)).statusCode).toBe(404);
  });
});
