import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { DEFAULT_PROVIDERS, HF_INFERENCE, TOPICS } from '@nanobill/contract';
import { createKafka, createProducer } from '@nanobill/kafka';
import { startBroker, stopBroker } from '@nanobill/kafka-broker';
import {
  collectTopic,
  freePortPair,
  quietLogger,
  spawnTs,
  tempDir,
  waitFor,
} from '@nanobill/testkit';
import { ClickHouseServer, keepLog } from '../fixtures/chdb-server.js';
import * as hostile from './generators.js';

// Issue 12, "done when": generated hostile events, snapshots, settings bodies, provider answers
// and finance SQL thrown at a running pipeline (one `nanobill run` process, every service, on a
// ClickHouse server and a broker of the test's own). The properties: the process never exits and
// stays ready; every event ends in exactly one of billing.usage or the DLQ (with its reason);
// every priced request in exactly one of the ledger or unpriced, at the cost the provider meant
// or not at all; every snapshot in the history or its DLQ; the API answers every body and every
// SQL text with a 2xx or a 4xx, never a 5xx, and never with a secret of the process.
// HOSTILE_SEED replays a run; the seed is printed.

const NANOBILL = fileURLToPath(new URL('../../cli/bin/nanobill.js', import.meta.url));
const SEED = Number(process.env.HOSTILE_SEED ?? Date.now() % 1_000_000);
const COUNTS = { events: 400, snapshots: 150, settings: 150, sql: 150, statusIds: 60 };
/** Secrets of the pipeline process: no answer of the API may contain them. */
const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const PROVIDER_TOKEN = `provider-token-${randomBytes(12).toString('hex')}`;
/** The providers' deadline: past it, what is still not priced is unpriced. */
const DEADLINE_MS = 20_000;

const dataDir = tempDir('nanobill-hostile-');
const brokerDir = tempDir('nanobill-hostile-kafka-');
const cleanup: Array<() => Promise<unknown>> = [];

describe(`hostile inputs at a running pipeline (HOSTILE_SEED=${SEED})`, () => {
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
    for (const dir of [dataDir, brokerDir]) rmSync(dir, { recursive: true, force: true });
  });

  it('never stops, and every input ends in exactly one place', async () => {
    console.log(`hostile pipeline: HOSTILE_SEED=${SEED}`);
    const broker = { dataDir: brokerDir, port: await freePortPair() };
    const { brokers } = await startBroker(broker);
    cleanup.push(() => stopBroker(broker));
    const chServer = new ClickHouseServer(dataDir);
    const clickhouseUrl = await chServer.start();
    cleanup.push(() => chServer.stop('SIGTERM'));
    const clickhouse = openClickHouse({ url: clickhouseUrl, dataDir });
    cleanup.push(() => clickhouse.close());
    const providers = await startHostileProviders(SEED);
    cleanup.push(() => providers.close());

    const providersFile = join(dataDir, 'providers.json');
    writeFileSync(providersFile, JSON.stringify(providers.file));
    // One free pair: the API on the first port, the ops endpoints on the next.
    const port = await freePortPair();
    const opsPort = port + 1;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      CLICKHOUSE_URL: clickhouseUrl,
      NANOBILL_DATA_DIR: dataDir,
      NANOBILL_PROVIDERS_FILE: providersFile,
      NANOBILL_PRICING_SCHEDULE: '*/2 * * * * *',
      NANOBILL_PRICING_DEADLINE_MS: String(DEADLINE_MS),
      NANOBILL_HOSTILE_TEST_TOKEN: PROVIDER_TOKEN,
      NANOBILL_OPS_WEBHOOK_SECRET: CANARY,
      PORT: String(port),
      NANOBILL_OPS_PORT: String(opsPort),
      LOG_LEVEL: 'warn',
    };
    const pipeline = spawnTs(NANOBILL, env, ['run']);
    keepLog(pipeline, 'hostile-pipeline');
    cleanup.push(async () => {
      if (pipeline.child.exitCode === null) pipeline.child.kill('SIGKILL');
    });
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200;
    await waitFor(
      'the pipeline to be ready',
      async () => ((await ready()) ? true : undefined),
      120_000,
      250,
    );

    const kafka = createKafka({ brokers, clientId: 'hostile-test', logger: quietLogger() });
    const producer = createProducer(kafka);
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    const api = await apiClient(NANOBILL, env, port);

    // Accounts first: the users events name, and the org whose settings are attacked.
    const snapshots = fc.sample(hostile.snapshotMessage(), {
      seed: SEED,
      numRuns: COUNTS.snapshots,
    });
    await producer.send({
      topic: TOPICS.accounts,
      acks: -1,
      messages: [...hostile.baseAccounts(), ...snapshots].map((m) => ({
        key: m.key,
        value: m.value,
      })),
    });
    const events = fc.sample(hostile.eventMessage(), { seed: SEED, numRuns: COUNTS.events });
    // Keys are unique per generated message; some valid ones are sent twice (redelivery).
    const sent = events.flatMap((m) => (m.twice ? [m, m] : [m]));
    for (const chunk of chunks(sent, 100)) {
      await producer.send({
        topic: TOPICS.requests,
        acks: -1,
        messages: chunk.map((m) => ({ key: m.key, value: m.value })),
      });
    }

    // Among the generated inputs, ones the API must accept: its refusals are not the only answer.
    const settings = [
      JSON.stringify({ spendingLimitNanoUsd: '5000000000', disabledProviders: ['groq'] }),
      ...fc.sample(hostile.settingsBody(), { seed: SEED, numRuns: COUNTS.settings }),
    ];
    const settingsAnswers = [];
    for (const body of settings)
      settingsAnswers.push({ kind: 'settings', input: body, ...(await api.putSettings(body)) });
    const sqls = [
      'SELECT provider, count() AS requests, sum(toInt128(cost_nano_usd)) AS cost FROM billing.ledger GROUP BY provider',
      ...fc.sample(hostile.financeSql(), { seed: SEED, numRuns: COUNTS.sql }),
    ];
    const sqlAnswers = [];
    for (const sql of sqls)
      sqlAnswers.push({ kind: 'finance SQL', input: sql, ...(await api.financeQuery(sql)) });
    const ids = fc.sample(hostile.hostileString(), { seed: SEED, numRuns: COUNTS.statusIds });
    const statusAnswers = [];
    for (const id of ids)
      statusAnswers.push({ kind: 'status', input: id, ...(await api.status(id)) });

    // The API: a 2xx or a 4xx for every input, never a 5xx, never a secret of the process.
    for (const answer of [...settingsAnswers, ...sqlAnswers, ...statusAnswers]) {
      const what = `${answer.kind} ${JSON.stringify(answer.input).slice(0, 300)} → ${answer.text.slice(0, 300)}`;
      expect(answer.status, what).toBeLessThan(500);
      expect(answer.text).not.toContain(CANARY);
      expect(answer.text).not.toContain(PROVIDER_TOKEN);
      expect(answer.text).not.toMatch(/root:x:0:0/);
    }
    expect(
      settingsAnswers.some((a) => a.status === 200),
      'some settings accepted',
    ).toBe(true);
    expect(
      settingsAnswers.some((a) => a.status === 400),
      'some settings refused',
    ).toBe(true);
    expect(
      sqlAnswers.some((a) => a.status === 200),
      'some SQL answered',
    ).toBe(true);

    // Every event: exactly one of billing.usage and the DLQ. Then every priced one: exactly one
    // of ledger and unpriced, once the deadline has passed for all.
    const query = queries(clickhouse);
    const eventKeys = new Set(events.map((m) => m.key));
    const dlq = await collectTopic(kafka, TOPICS.requestsDlq);
    cleanup.push(() => dlq.stop());
    const keyOf = (m: { key: Buffer | null }) => m.key?.toString() ?? '';
    await waitFor(
      'every event stored or dead-lettered',
      async () => {
        const stored = await query.usageIds([...eventKeys]);
        const dead = new Set(dlq.messages.map(keyOf));
        return [...eventKeys].every((k) => stored.has(k) !== dead.has(k)) ? true : undefined;
      },
      120_000,
      1_000,
    ).catch(async (error: unknown) => {
      const stored = await query.usageIds([...eventKeys]);
      const dead = new Set(dlq.messages.map(keyOf));
      const lost = [...eventKeys].filter((k) => stored.has(k) === dead.has(k)).slice(0, 5);
      throw new Error(`${(error as Error).message}: e.g. ${JSON.stringify(lost)}`);
    });
    const usageCounts = await query.usageCounts([...eventKeys]);
    for (const [key, count] of usageCounts) expect(count, `usage rows of ${key}`).toBe(1);
    for (const message of dlq.messages) {
      const key = keyOf(message);
      if (!eventKeys.has(key)) continue;
      expect(message.headers?.['nanobill-code']?.toString(), key).toMatch(/^[a-z_]+$/);
      expect(message.headers?.['nanobill-reason']?.toString().length, key).toBeGreaterThan(0);
    }

    const priceable = await query.priceable([...eventKeys]);
    await waitFor(
      'every priceable request in the ledger or unpriced',
      async () => {
        const done = await query.pricedOrUnpriced(priceable.map((p) => p.requestId));
        return priceable.every((p) => done.has(p.requestId)) ? true : undefined;
      },
      DEADLINE_MS * 4 + 60_000,
      1_000,
    );
    const ledger = await query.ledger(priceable.map((p) => p.requestId));
    const unpriced = await query.unpriced(priceable.map((p) => p.requestId));
    for (const p of priceable) {
      const booked = ledger.get(p.requestId);
      // A booked cost may be 0 (no compute time, no tokens): present is what counts.
      const places = (booked === undefined ? 0 : 1) + (unpriced.has(p.requestId) ? 1 : 0);
      expect(places, p.requestId).toBe(1);
      if (booked === undefined) continue;
      // A cost is booked only as the provider meant it (valid, within the ceiling) or computed.
      const meant =
        p.provider === HF_INFERENCE ? undefined : providers.meantCost(p.providerRequestId);
      if (meant !== undefined) expect(booked, p.requestId).toBe(meant);
      expect(booked >= 0n && booked <= hostile.MAX_COST_NANO_USD, p.requestId).toBe(true);
    }

    // Snapshots: each in the history or in the accounts DLQ, never both, never neither.
    const accountsDlqTopic = await collectTopic(kafka, TOPICS.accountsDlq);
    cleanup.push(() => accountsDlqTopic.stop());
    await waitFor(
      'every snapshot stored or dead-lettered',
      async () => {
        const stored = await query.snapshotIds(snapshots.map((s) => s.key));
        const dead = new Set(accountsDlqTopic.messages.map(keyOf));
        return snapshots.every((s) => stored.has(s.key) || dead.has(s.key)) ? true : undefined;
      },
      60_000,
      1_000,
    );
    const accountsDlq = new Set(accountsDlqTopic.messages.map(keyOf));
    const snapshotKeys = snapshots.map((s) => s.key);
    const stored = await query.snapshotIds(snapshotKeys);
    for (const key of snapshotKeys) {
      expect(stored.has(key) !== accountsDlq.has(key), `snapshot ${JSON.stringify(key)}`).toBe(
        true,
      );
    }

    expect(pipeline.child.exitCode, 'the pipeline process exited').toBeNull();
    expect(await ready(), 'the pipeline is still ready').toBe(true);
    console.log(
      `hostile pipeline: ${events.length} events (${usageCounts.size} stored, ${eventKeys.size - usageCounts.size} dead-lettered), ` +
        `${priceable.length} priceable (${ledger.size} priced, ${unpriced.size} unpriced), ` +
        `${snapshotKeys.length} snapshots (${stored.size} stored), ` +
        `settings ${countBy(settingsAnswers)}, SQL ${countBy(sqlAnswers)}, status ${countBy(statusAnswers)}`,
    );
    pipeline.child.kill('SIGTERM');
    expect((await pipeline.exited).code).toBe(0);
  }, 600_000);
});

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

function countBy(answers: ReadonlyArray<{ status: number }>): string {
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  return JSON.stringify(Object.fromEntries([...counts].sort(([a], [b]) => a - b)));
}

/** The API as a client sees it, with an org admin's and a finance token from `nanobill tokens`. */
async function apiClient(cli: string, env: NodeJS.ProcessEnv, port: number) {
  const token = async (args: string[]) => {
    const run = await spawnTs(cli, env, ['tokens', 'create', ...args]).exited;
    if (run.code !== 0) throw new Error(run.stderr);
    return (JSON.parse(run.stdout) as { token: string }).token;
  };
  const org = await token(['--org', hostile.ORG]);
  const finance = await token(['--finance']);
  const call = async (path: string, init: RequestInit, bearer: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    });
    return { status: response.status, text: await response.text() };
  };
  return {
    putSettings: (body: string) =>
      call(`/v1/orgs/${hostile.ORG}/settings`, { method: 'PUT', body }, org),
    financeQuery: (sql: string) =>
      call('/v1/finance/query', { method: 'POST', body: JSON.stringify({ sql }) }, finance),
    status: (id: string) =>
      call(`/v1/accounts/${encodeURIComponent(id)}/status`, { method: 'GET' }, finance),
  };
}

/** Reads of the outcome, by the generated keys (query parameters only). */
function queries(client: ClickHouseClient) {
  const rows = async <T>(query: string, ids: string[]) => {
    const result = await client.query({ query, query_params: { ids }, format: 'JSONEachRow' });
    return result.json<T>();
  };
  return {
    async usageIds(ids: string[]) {
      const found = await rows<{ request_id: string }>(
        'SELECT DISTINCT request_id FROM billing.usage WHERE request_id IN {ids:Array(String)}',
        ids,
      );
      return new Set(found.map((r) => r.request_id));
    },
    async usageCounts(ids: string[]) {
      const found = await rows<{ request_id: string; n: string }>(
        'SELECT request_id, count() AS n FROM billing.usage WHERE request_id IN {ids:Array(String)} GROUP BY request_id',
        ids,
      );
      return new Map(found.map((r) => [r.request_id, Number(r.n)]));
    },
    async priceable(ids: string[]) {
      const found = await rows<{
        request_id: string;
        provider: string;
        provider_request_id: string;
      }>(
        `SELECT request_id, provider, provider_request_id FROM billing.usage
         WHERE request_id IN {ids:Array(String)} AND billing_mode = 'routed'
           AND provider_request_id IS NOT NULL`,
        ids,
      );
      return found.map((r) => ({
        requestId: r.request_id,
        provider: r.provider,
        providerRequestId: r.provider_request_id,
      }));
    },
    async pricedOrUnpriced(ids: string[]) {
      const found = await rows<{ request_id: string }>(
        `SELECT request_id FROM billing.ledger WHERE request_id IN {ids:Array(String)}
         UNION ALL SELECT request_id FROM billing.unpriced WHERE request_id IN {ids:Array(String)}`,
        ids,
      );
      return new Set(found.map((r) => r.request_id));
    },
    async ledger(ids: string[]) {
      const found = await rows<{ request_id: string; cost_nano_usd: string }>(
        'SELECT request_id, cost_nano_usd FROM billing.ledger WHERE request_id IN {ids:Array(String)}',
        ids,
      );
      return new Map(found.map((r) => [r.request_id, BigInt(r.cost_nano_usd)]));
    },
    async unpriced(ids: string[]) {
      const found = await rows<{ request_id: string }>(
        'SELECT request_id FROM billing.unpriced WHERE request_id IN {ids:Array(String)}',
        ids,
      );
      return new Set(found.map((r) => r.request_id));
    },
    async snapshotIds(ids: string[]) {
      const found = await rows<{ account_id: string }>(
        'SELECT DISTINCT account_id FROM billing.account_snapshots WHERE account_id IN {ids:Array(String)}',
        ids,
      );
      return new Set(found.map((r) => r.account_id));
    },
  };
}

/**
 * Every provider's cost endpoint, answering whatever a seeded plan says: per call a 5xx, a body
 * that is not JSON or not the contract's shape; per id a valid cost, a cost above the ceiling, a
 * negative, fractional or string cost, an id left out or answered twice. `meantCost` is the cost
 * the ledger may hold for an id (undefined: it must never be booked).
 */
async function startHostileProviders(seed: number) {
  const planOf = (providerRequestId: string) => {
    const h = createHash('sha256').update(`${seed}:${providerRequestId}`).digest();
    return { kind: h[0]! % 20, cost: BigInt(h.readUInt32BE(1) % 50_000_000) };
  };
  const answerFor = (id: string): unknown[] => {
    const { kind, cost } = planOf(id);
    if (kind === 0) return [{ requestId: id, costNanoUsd: Number(hostile.MAX_COST_NANO_USD) * 10 }];
    if (kind === 1) return [{ requestId: id, costNanoUsd: -Number(cost) - 1 }];
    if (kind === 2) return [{ requestId: id, costNanoUsd: Number(cost) + 0.5 }];
    if (kind === 3) return [{ requestId: id, costNanoUsd: String(cost) }];
    if (kind === 4) return [];
    if (kind === 5)
      return [
        { requestId: id, costNanoUsd: Number(cost) },
        { requestId: id, costNanoUsd: Number(cost) },
      ];
    return [{ requestId: id, costNanoUsd: Number(cost) }];
  };
  let calls = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = JSON.parse(await readBody(request)) as { requestIds: string[] };
      calls += 1;
      const chaos = createHash('sha256').update(`${seed}:call:${calls}`).digest()[0]! % 10;
      if (request.headers.authorization !== `Bearer ${PROVIDER_TOKEN}`) {
        response.writeHead(401).end();
      } else if (chaos === 0) {
        response.writeHead(503).end('overloaded');
      } else if (chaos === 1) {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"requests": [');
      } else if (chaos === 2) {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"requests": "none"}');
      } else {
        const requests = body.requestIds.flatMap(answerFor);
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ requests }));
      }
    })().catch(() => response.writeHead(400).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const file: Record<string, unknown> = {
    [HF_INFERENCE]: { hardware: hostile.HARDWARE },
  };
  for (const name of DEFAULT_PROVIDERS.filter((p) => p !== HF_INFERENCE)) {
    file[name] = {
      costUrl: `http://127.0.0.1:${port}/${name}/cost`,
      tokenEnv: 'NANOBILL_HOSTILE_TEST_TOKEN',
      timeoutMs: 2_000,
      retries: 0,
    };
  }
  return {
    file,
    meantCost(providerRequestId: string): bigint | undefined {
      const { kind, cost } = planOf(providerRequestId);
      return kind === 5 || kind >= 6 ? cost : undefined;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}
