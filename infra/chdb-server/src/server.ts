import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { embeddedPath } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { BadRequest, Engine, type Statement } from './engine.js';

/** URL parameters of the HTTP interface that are not engine settings. */
const PROTOCOL_PARAMS = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'user',
  'password',
  'quota_key',
  'role',
  'compress',
  'decompress',
  'buffer_size',
  'client_protocol_version',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_buffer_size',
  'http_headers_progress_interval_ms',
  'send_progress_in_http_headers',
  'wait_end_of_query',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
]);

/** Inserts of a few hundred thousand rows arrive as one body. */
const MAX_BODY_BYTES = 1024 * 1024 * 1024;
const SLOW_MS = 10_000;
/** Bindings travel in the URL: ClickHouse's own limit (`http_max_uri_size`) is 1 MiB. */
const MAX_URL_BYTES = 1024 * 1024;

export interface ChdbServerOptions {
  /** The same layout as `nanobill run`: tables live under `dataDir/clickhouse`. */
  dataDir: string;
  port?: number;
  host?: string;
  logger: Logger;
}

export interface ChdbServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The subset of ClickHouse's HTTP interface that `@clickhouse/client` speaks (queries, inserts,
 * commands, `param_*` bindings, per-request settings, `/ping`), served by the embedded engine.
 * It lets services run as separate processes against one ClickHouse where no server can be
 * installed; it has no users, sessions or compression, so it listens on loopback by default.
 */
export async function startChdbServer(options: ChdbServerOptions): Promise<ChdbServer> {
  const engine = new Engine(embeddedPath(options.dataDir));
  const app = Fastify({
    loggerInstance: options.logger,
    disableRequestLogging: true,
    bodyLimit: MAX_BODY_BYTES,
    serverFactory: (handler) => createServer({ maxHeaderSize: MAX_URL_BYTES + 64 * 1024 }, handler),
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.get('/ping', async () => 'Ok.\n');
  app.route({
    method: ['GET', 'POST'],
    url: '/',
    handler: async (request, reply) => {
      const queryId = new URL(request.raw.url ?? '/', 'http://localhost').searchParams.get(
        'query_id',
      );
      reply.header('X-ClickHouse-Query-Id', queryId ?? randomUUID());
      let statement: Statement;
      try {
        statement = parseRequest(
          request.raw.url ?? '/',
          request.body as Buffer | undefined,
          request.headers['content-encoding'],
        );
      } catch (error) {
        return reply.code(400).send(`Code: 1001. DB::Exception: ${(error as Error).message}\n`);
      }
      // A statement still running after SLOW_MS is logged once, while it runs: the engine cannot
      // cancel it, and everything queued behind it waits.
      const slow = setTimeout(
        () =>
          request.log.warn({ sql: statement.sql.slice(0, 300) }, 'slow statement still running'),
        SLOW_MS,
      );
      try {
        const result = await engine.run(statement);
        return reply
          .header('X-ClickHouse-Format', statement.format)
          .header(
            'X-ClickHouse-Summary',
            JSON.stringify({
              read_rows: String(result.rowsRead),
              read_bytes: String(result.bytesRead),
              elapsed_ns: String(Math.round(result.elapsedSeconds * 1e9)),
            }),
          )
          .type('text/plain; charset=UTF-8')
          .send(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength));
      } catch (error) {
        const message = (error as Error).message;
        const code = /Code: (\d+)\./.exec(message)?.[1];
        if (code === undefined) request.log.error({ err: error }, 'engine failure');
        return reply
          .code(error instanceof BadRequest ? 400 : 500)
          .header('X-ClickHouse-Exception-Code', code ?? '1001')
          .type('text/plain; charset=UTF-8')
          .send(`${message.trimEnd()}\n`);
      } finally {
        clearTimeout(slow);
      }
    },
  });

  const address = await app.listen({
    port: options.port ?? 8123,
    host: options.host ?? '127.0.0.1',
  });
  return {
    url: address,
    close: async () => {
      await app.close();
      engine.close();
    },
  };
}

/** ClickHouse's rules: the statement is the `query` parameter followed by the body. */
export function parseRequest(
  rawUrl: string,
  body: Buffer | undefined,
  contentEncoding: string | undefined,
): Statement {
  const url = new URL(rawUrl, 'http://localhost');
  if (url.searchParams.has('session_id')) throw new BadRequest('sessions are not supported');
  let payload = body ?? Buffer.alloc(0);
  if (payload.length > 0 && contentEncoding !== undefined && contentEncoding !== 'identity') {
    if (contentEncoding !== 'gzip') {
      throw new BadRequest(`unsupported Content-Encoding ${contentEncoding}`);
    }
    payload = gunzipSync(payload);
  }
  const inUrl = url.searchParams.get('query') ?? '';
  const inBody = payload.toString('utf8');
  const sql = inUrl && inBody ? `${inUrl}\n${inBody}` : inUrl || inBody;
  if (sql.trim() === '') throw new BadRequest('empty query');

  const settings: Array<[string, string]> = [];
  const params: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (name.startsWith('param_')) params[name.slice('param_'.length)] = value;
    else if (!PROTOCOL_PARAMS.has(name) && !name.startsWith('session_')) {
      settings.push([name, value]);
    }
  }
  return {
    sql,
    format: url.searchParams.get('default_format') ?? 'TabSeparated',
    settings,
    database: url.searchParams.get('database') ?? undefined,
    params,
  };
}
