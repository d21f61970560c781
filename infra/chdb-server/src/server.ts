import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import Fastify, { type FastifyError, type FastifyRequest } from 'fastify';
import { embeddedPath } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import {
  authenticator,
  CHDB_SERVER_USER,
  hostChecker,
  isLoopbackHost,
  refuseBrowsers,
} from './access.js';
import { MAX_BODY_BYTES, MAX_INFLATED_BODY_BYTES, readBody, type BodyLimits } from './body.js';
import { Engine, type Statement } from './engine.js';
import { badRequest, RefusedRequest, shown } from './errors.js';
import { MIN_PASSWORD_LENGTH } from './password.js';

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

const SLOW_MS = 10_000;
/** Bindings travel in the URL: ClickHouse's own limit (`http_max_uri_size`) is 1 MiB. */
const MAX_URL_BYTES = 1024 * 1024;
/** A client sends its headers at once; a slow-loris one loses its connection after this. */
const HEADERS_TIMEOUT_MS = 10_000;
/** The whole request, a body of MAX_BODY_BYTES included, arrives within this (Node's default). */
const REQUEST_TIMEOUT_MS = 300_000;
/** How often Node looks for connections past those timeouts. */
const TIMEOUT_CHECK_INTERVAL_MS = 5_000;
/**
 * Open connections at once: well above what every nanobill process's client pools open together,
 * low enough that a local flood cannot exhaust file descriptors.
 */
const MAX_CONNECTIONS = 1024;
/** Output formats are names; the name is echoed in `X-ClickHouse-Format`. */
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** A query id that cannot be a header value is not echoed (no response splitting). */
const HEADER_SAFE_QUERY_ID = /^[\x21-\x7e]{1,256}$/;

export interface ChdbServerOptions {
  /** The same layout as `nanobill run`: tables live under `dataDir/clickhouse`. */
  dataDir: string;
  port?: number;
  /** Loopback (127.0.0.1) by default; any other address needs `allowedHosts`. */
  host?: string;
  /** The password of the one user, `default` (see `serverPassword`). */
  password: string;
  /**
   * Host names (or addresses) clients use besides the loopback ones, as they appear in the Host
   * header. Required to listen on a non-loopback address: a server reachable from the network
   * must still know its own names to refuse DNS rebinding.
   */
  allowedHosts?: readonly string[];
  limits?: Partial<BodyLimits>;
  logger: Logger;
}

export interface ChdbServer {
  /** Without credentials: clients add `default:<password>@`. */
  url: string;
  user: string;
  close(): Promise<void>;
}

/**
 * The subset of ClickHouse's HTTP interface that `@clickhouse/client` speaks (queries, inserts,
 * commands, `param_*` bindings, per-request settings, `/ping`), served by the embedded engine.
 * It lets services run as separate processes against one ClickHouse where no server can be
 * installed. Every request but `/ping` needs the password; GET requests are read-only; requests
 * from web browsers and with a Host that is not the server's own are refused.
 */
export async function startChdbServer(options: ChdbServerOptions): Promise<ChdbServer> {
  const host = options.host ?? '127.0.0.1';
  const allowedHosts = options.allowedHosts ?? [];
  if (!isLoopbackHost(host) && allowedHosts.length === 0) {
    throw new Error(
      `the chdb server listens on loopback addresses only, unless told the host names clients use (allowedHosts, --allow-host); ${host} is not loopback`,
    );
  }
  if (options.password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(
      `the chdb server password must have at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  const limits: BodyLimits = {
    maxBodyBytes: options.limits?.maxBodyBytes ?? MAX_BODY_BYTES,
    maxInflatedBodyBytes: options.limits?.maxInflatedBodyBytes ?? MAX_INFLATED_BODY_BYTES,
  };
  const checkHost = hostChecker(allowedHosts);
  const authenticate = authenticator(options.password);

  const engine = new Engine(embeddedPath(options.dataDir));
  const app = Fastify({
    loggerInstance: options.logger,
    disableRequestLogging: true,
    serverFactory: (handler) => {
      const server = createServer(
        {
          maxHeaderSize: MAX_URL_BYTES + 64 * 1024,
          headersTimeout: HEADERS_TIMEOUT_MS,
          requestTimeout: REQUEST_TIMEOUT_MS,
          connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
        },
        handler,
      );
      server.maxConnections = MAX_CONNECTIONS;
      return server;
    },
  });

  // Before any body is read: who may ask at all.
  app.addHook('onRequest', async (request) => {
    refuseBrowsers(request.headers);
    checkHost(request.headers.host, request.socket.localPort ?? 0);
    const url = new URL(request.raw.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ping') authenticate(request.headers, url.searchParams);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) =>
    readBody(
      payload,
      {
        contentEncoding: headerValue(request.headers['content-encoding']),
        contentLength: headerValue(request.headers['content-length']),
      },
      limits,
    ),
  );

  app.setErrorHandler((error: FastifyError | RefusedRequest, request, reply) => {
    const refused = error instanceof RefusedRequest;
    const refusal = refused
      ? error
      : new RefusedRequest(
          error.statusCode ?? 500,
          'BAD_ARGUMENTS',
          error.message.replace(/\s+/g, ' '),
        );
    // What was refused and why, never what was sent (headers and URLs may carry credentials).
    request.log.warn(
      {
        refusal: refusal.type,
        status: refusal.status,
        method: request.method,
        path: request.routeOptions.url,
        ...(refused ? {} : { err: error }),
      },
      `request refused: ${refusal.message}`,
    );
    return reply
      .code(refusal.status)
      .header('X-ClickHouse-Exception-Code', String(refusal.code))
      .type('text/plain; charset=UTF-8')
      .send(refusal.body);
  });

  app.get('/ping', async () => 'Ok.\n');
  app.route({
    method: ['GET', 'POST'],
    url: '/',
    handler: async (request, reply) => {
      const rawUrl = request.raw.url ?? '/';
      reply.header('X-ClickHouse-Query-Id', queryId(rawUrl));
      const statement = parseRequest({
        method: request.method,
        url: rawUrl,
        body: request.body as Buffer | undefined,
      });
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
              written_rows: String(result.rowsWritten),
              written_bytes: String(result.bytesWritten),
              elapsed_ns: String(Math.round(result.elapsedSeconds * 1e9)),
            }),
          )
          .type('text/plain; charset=UTF-8')
          .send(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength));
      } catch (error) {
        if (error instanceof RefusedRequest) throw error;
        const message = (error as Error).message;
        const code = /Code: (\d+)\./.exec(message)?.[1];
        if (code === undefined) request.log.error({ err: error }, 'engine failure');
        return reply
          .code(500)
          .header('X-ClickHouse-Exception-Code', code ?? '1001')
          .type('text/plain; charset=UTF-8')
          .send(`${message.trimEnd()}\n`);
      } finally {
        clearTimeout(slow);
      }
    },
  });

  let address: string;
  try {
    address = await app.listen({ port: options.port ?? 8123, host });
  } catch (error) {
    engine.close();
    throw error;
  }
  return {
    url: address,
    user: CHDB_SERVER_USER,
    close: async () => {
      await app.close();
      engine.close();
    },
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function queryId(rawUrl: string): string {
  const given = new URL(rawUrl, 'http://localhost').searchParams.get('query_id');
  return given !== null && HEADER_SAFE_QUERY_ID.test(given) ? given : randomUUID();
}

/**
 * ClickHouse's rules: the statement is the `query` parameter followed by the body; a GET runs
 * read-only. A GET gets `readonly = 1`, not ClickHouse's 2: under 2, chdb lets table functions
 * read and write files (`INSERT INTO FUNCTION file(…)`). `readonly` comes after every other
 * setting, so that none lifts it. An insert whose data is the body goes to the engine as bytes.
 */
export function parseRequest(request: {
  method: string;
  url: string;
  body: Buffer | undefined;
}): Statement {
  const url = new URL(request.url, 'http://localhost');
  if (url.searchParams.has('session_id')) {
    throw badRequest('NOT_IMPLEMENTED', 'sessions are not supported');
  }
  const body = request.body ?? Buffer.alloc(0);
  const inUrl = url.searchParams.get('query') ?? '';

  const settings: Array<[string, string]> = [];
  const params: Record<string, string> = {};
  let readonly: string | undefined;
  for (const [name, value] of url.searchParams) {
    if (name.startsWith('param_')) params[name.slice('param_'.length)] = value;
    else if (name === 'readonly') readonly = value;
    else if (!PROTOCOL_PARAMS.has(name) && !name.startsWith('session_')) {
      settings.push([name, value]);
    }
  }
  const readOnly = request.method === 'GET';
  if (readOnly) settings.push(['readonly', '1']);
  else if (readonly !== undefined) settings.push(['readonly', readonly]);

  const format = url.searchParams.get('default_format') ?? 'TabSeparated';
  if (!FORMAT_NAME.test(format))
    throw badRequest('BAD_ARGUMENTS', `Unknown format ${shown(format)}`);
  const common = {
    format,
    settings,
    database: url.searchParams.get('database') ?? undefined,
    params,
    readOnly,
  };
  if (inUrl !== '' && body.length > 0 && isInsert(inUrl) && Object.keys(params).length === 0) {
    return { ...common, sql: inUrl, data: body };
  }
  const inBody = body.toString('utf8');
  const sql = inUrl && inBody ? `${inUrl}\n${inBody}` : inUrl || inBody;
  if (sql.trim() === '') throw badRequest('SYNTAX_ERROR', 'empty query');
  return { ...common, sql, data: undefined };
}

/** An INSERT answers nothing but its summary, so its data can go to the engine apart. */
function isInsert(sql: string): boolean {
  return /^\s*INSERT\s/i.test(sql);
}
