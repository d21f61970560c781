import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Fastify from 'fastify';
import { Client } from 'undici';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { QueryRequest, runReadOnly } from './query.js';
import { StatementsRequest, linesToJson, loadStatements } from './statements.js';
import { TokensRequest, runTokens } from './tokens.js';

/**
 * Embedded ClickHouse belongs to one process. While `nanobill run`/`demo` holds it, `nanobill
 * query` asks that process over a Unix socket in the data directory (file permissions are the
 * access control; nothing listens on the network).
 */
export function querySocketPath(dataDir: string): string {
  return join(dataDir, 'nanobill.sock');
}

/**
 * Serves the CLI's operations on the socket: read-only ones (`/query`, `/statements`) on
 * `client`, a connection of its own (readonly sticks to it), and token management (`/tokens`)
 * on `writer`.
 */
export async function startQueryServer(options: {
  dataDir: string;
  client: ClickHouseClient;
  writer: ClickHouseClient;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  const path = querySocketPath(options.dataDir);
  if (existsSync(path)) rmSync(path); // left by a process that was killed
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'query-socket' }) });
  app.post('/query', async (request, reply) => {
    const body = QueryRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: body.error.issues[0]?.message });
    try {
      const output = await runReadOnly(options.client, body.data);
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
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  await app.listen({ path });
  return { close: () => app.close() };
}

/** Asks a running process; `undefined` when none listens on the socket. */
export async function askRunningProcess(
  dataDir: string,
  route: '/query' | '/statements' | '/tokens',
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
