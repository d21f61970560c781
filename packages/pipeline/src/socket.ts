import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import Fastify from 'fastify';
import { Client } from 'undici';
import {
  migrate,
  openClickHouse,
  type ClickHouseClient,
  type FinanceSql,
} from '@nanobill/clickhouse';
import type { Config } from '@nanobill/config';
import type { Logger } from '@nanobill/observability';
import { QueryRequest, runFinanceQuery } from './query.js';
import { StatementsRequest, linesToJson, loadStatements } from './statements.js';
import { UnknownTokenId } from '@nanobill/api';
import { TokensRequest, runTokens } from './tokens.js';
import type { WebhookSecretStore } from '@nanobill/webhooks';
import { WebhooksRequest, runWebhooks } from './webhooks.js';
import { AuditRequest } from './audit.js';
import type { AuditReport } from '@nanobill/audit';

/**
 * Embedded ClickHouse belongs to one process. While `nanobill run`/`demo` holds it, `nanobill
 * query` asks that process over a Unix socket in the data directory (file permissions are the
 * access control: the socket is 0600, the owner's only; nothing listens on the network).
 */
export function querySocketPath(dataDir: string): string {
  return join(dataDir, 'nanobill.sock');
}

/** The socket's mode: its owner only may connect. */
const SOCKET_MODE = 0o600;

/**
 * Serves the CLI's operations on the socket: finance SQL (`/query`) on `finance`, checked here
 * as everywhere; statements on `client`, a connection of its own (readonly sticks to it); token
 * management (`/tokens`) on `writer`; webhook secret rotation (`/webhooks`); the audit of the
 * books (`/audit`), by the process, which holds the enforcement service.
 */
export async function startQueryServer(options: {
  dataDir: string;
  client: ClickHouseClient;
  finance: FinanceSql;
  writer: ClickHouseClient;
  /** The secrets store (made when first asked: it needs the secrets key). */
  webhookSecrets: () => WebhookSecretStore;
  /** The audit of the books (`nanobill audit`); absent: not served. */
  audit?: (request: AuditRequest) => Promise<AuditReport>;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  const path = querySocketPath(options.dataDir);
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'query-socket' }) });
  app.post('/query', async (request, reply) => {
    const body = QueryRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
    try {
      const output = await runFinanceQuery(options.finance, body.data);
      return reply.type('text/plain').send(output);
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  app.post('/statements', async (request, reply) => {
    const body = StatementsRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
    try {
      const lines = await loadStatements(options.client, body.data);
      return reply.type('application/json').send(linesToJson(lines));
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  app.post('/tokens', async (request, reply) => {
    const body = TokensRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
    try {
      return await runTokens(options.writer, body.data);
    } catch (error) {
      const code = error instanceof UnknownTokenId ? 404 : 400;
      return reply.code(code).send({ error: (error as Error).message });
    }
  });
  app.post('/webhooks', async (request, reply) => {
    const body = WebhooksRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
    try {
      return await runWebhooks(options.webhookSecrets(), body.data);
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  const { audit } = options;
  if (audit) {
    app.post('/audit', async (request, reply) => {
      const body = AuditRequest.safeParse(request.body);
      if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
      try {
        return await audit(body.data);
      } catch (error) {
        return reply.code(400).send({ error: (error as Error).message });
      }
    });
  }
  await listenPrivately(app, path);
  return {
    close: async () => {
      await app.close();
      rmSync(path, { force: true });
    },
  };
}

/**
 * Listens on `path` without the socket ever existing there with a wider mode than 0600, even
 * briefly, whatever the umask: it is bound inside a fresh 0700 directory (mkdtemp), narrowed,
 * then renamed into place. The rename is atomic and replaces a socket left by a killed process.
 */
async function listenPrivately(
  app: { listen(options: { path: string }): Promise<unknown> },
  path: string,
): Promise<void> {
  const staging = mkdtempSync(join(path, '..', '.sock-'));
  try {
    const bound = join(staging, 's'); // short: a socket path has at most 107 bytes
    await app.listen({ path: bound });
    chmodSync(bound, SOCKET_MODE);
    renameSync(bound, path);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Asks a running process; `undefined` when none listens on the socket. */
export async function askRunningProcess(
  dataDir: string,
  route: '/query' | '/statements' | '/tokens' | '/webhooks' | '/audit',
  request: unknown,
): Promise<Readable | undefined> {
  const socketPath = querySocketPath(dataDir);
  if (!existsSync(socketPath)) return undefined;
  const client = new Client('http://localhost', { socketPath });
  try {
    const response = await client.request({
      method: 'POST',
      path: route,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (response.statusCode !== 200) {
      const { error } = (await response.body.json()) as { error?: string };
      throw new Error(error ?? `${route} failed with HTTP ${response.statusCode}`);
    }
    response.body.once('close', () => {
      client.close().catch(() => undefined); // the answer was read; a failed close changes nothing
    });
    return response.body;
  } catch (error) {
    await client.close();
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') return undefined;
    throw error;
  }
}

/**
 * The JSON answer of a CLI operation that writes (`tokens`, `webhooks`): from the running
 * process when it holds the embedded data, else computed here on a connection of its own, the
 * schema brought up to date first.
 */
export async function operationResult(
  config: Config,
  route: '/tokens' | '/webhooks',
  request: unknown,
  direct: (client: ClickHouseClient) => Promise<unknown>,
): Promise<unknown> {
  const viaRunningProcess = config.clickhouseUrl
    ? undefined
    : await askRunningProcess(config.dataDir, route, request);
  if (viaRunningProcess) return JSON.parse(await text(viaRunningProcess));
  const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(client);
    return await direct(client);
  } finally {
    await client.close();
  }
}
