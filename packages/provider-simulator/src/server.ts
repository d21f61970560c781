import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ProviderFaults, renderAnswer, type Fault, type FaultKind } from './faults.js';

export interface SimulatedModel {
  id: string;
  /** USD per million input / output tokens. */
  pricing: { input: number; output: number };
  context_length?: number;
}

export interface SimulatedProvider {
  token: string;
  models?: SimulatedModel[];
}

export interface ProviderSimulatorOptions {
  /** 0 (the default) = an ephemeral port. */
  port?: number;
  host?: string;
  providers: Record<string, SimulatedProvider>;
  /** Most ids one call may ask for; more → 413. Default 10,000. */
  maxIds?: number;
  /** Largest request body read; more → 413. Default 8 MiB. */
  maxBodyBytes?: number;
  /** Serve HTTPS with this certificate and key (PEM); default plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** One call to a cost route, recorded when the simulator decides its answer. */
export interface SimulatedCall {
  provider: string;
  /** requestIds.length as sent (0 when the body was not a valid request). */
  ids: number;
  /** The status answered; 0 for a `timeout` fault (no answer). */
  status: number;
  /** Date.now() when the request had been read. */
  at: number;
  /** The kinds of the faults that took effect on this call. */
  faults: FaultKind[];
}

export interface ProviderSimulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  costUrl(provider: string): string;
  modelsUrl(provider: string): string;
  /** A copy of the calls to cost routes, oldest first. */
  calls(): SimulatedCall[];
  resetCalls(): void;
  /** Ids this provider has answered with a valid cost in an acceptable answer at least once. */
  answeredIds(provider: string): Set<string>;
  setFaults(provider: string, faults: readonly Fault[]): void;
  /** One provider's faults, or every provider's. */
  clearFaults(provider?: string): void;
  /** The provider's active faults, `times` = uses left. */
  faults(provider: string): Fault[];
  close(): Promise<void>;
}

const MODEL_CREATED = 1_700_000_000;
const DEFAULT_CONTEXT_LENGTH = 131_072;

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  contentType = 'application/json',
  chunked = false,
): void {
  if (res.destroyed) return;
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (!chunked) {
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
    return;
  }
  const step = 64 * 1024;
  for (let i = 0; i < body.length; i += step) res.write(body.slice(i, i + step));
  res.end();
}

const error = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** Reads the whole body; past `limit` bytes it keeps draining but returns undefined. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

function parseRequestIds(body: Buffer): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('requestIds' in parsed)) return undefined;
  const ids = parsed.requestIds;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return undefined;
  return ids as string[];
}

function route(url: string): { provider: string; path: 'cost' | 'models' } | undefined {
  const { pathname } = new URL(url, 'http://simulator');
  const parts = pathname.split('/').slice(1);
  const [raw, ...rest] = parts;
  if (raw === undefined || raw === '') return undefined;
  let provider: string;
  try {
    provider = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const tail = rest.join('/');
  if (tail === 'cost') return { provider, path: 'cost' };
  if (tail === 'v1/models') return { provider, path: 'models' };
  return undefined;
}

export async function startProviderSimulator(
  options: ProviderSimulatorOptions,
): Promise<ProviderSimulator> {
  const maxIds = options.maxIds ?? 10_000;
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const host = options.host ?? '127.0.0.1';
  const providers = new Map(Object.entries(options.providers));
  const faults = new Map([...providers.keys()].map((name) => [name, new ProviderFaults()]));
  const answered = new Map([...providers.keys()].map((name) => [name, new Set<string>()]));
  let calls: SimulatedCall[] = [];
  let callSeq = 0;
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();

  const known = <T>(map: Map<string, T>, provider: string): T => {
    const value = map.get(provider);
    if (value === undefined) throw new Error(`provider-simulator: unknown provider ${provider}`);
    return value;
  };

  const authorized = (req: IncomingMessage, provider: SimulatedProvider) =>
    req.headers.authorization === `Bearer ${provider.token}`;

  function models(req: IncomingMessage, res: ServerResponse, name: string): void {
    const provider = providers.get(name);
    if (!provider) return send(res, 404, error('unknown_provider', `no provider ${name}`));
    if (req.method !== 'GET') {
      return send(res, 405, error('method_not_allowed', 'use GET'), { allow: 'GET' });
    }
    if (!authorized(req, provider)) return send(res, 401, error('unauthorized', 'bad token'));
    const data = (provider.models ?? []).map((m) => ({
      id: m.id,
      object: 'model',
      created: MODEL_CREATED,
      owned_by: name,
      pricing: { input: m.pricing.input, output: m.pricing.output },
      context_length: m.context_length ?? DEFAULT_CONTEXT_LENGTH,
    }));
    send(res, 200, JSON.stringify({ object: 'list', data }));
  }

  async function cost(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const body = await readBody(req, maxBodyBytes);
    const call: SimulatedCall = { provider: name, ids: 0, status: 0, at: Date.now(), faults: [] };
    calls.push(call);
    const reply = (status: number, text: string, headers?: Record<string, string>) => {
      call.status = status;
      send(res, status, text, headers);
    };
    const provider = providers.get(name);
    if (!provider) return reply(404, error('unknown_provider', `no provider ${name}`));
    if (req.method !== 'POST') {
      return reply(405, error('method_not_allowed', 'use POST'), { allow: 'POST' });
    }
    if (!authorized(req, provider)) return reply(401, error('unauthorized', 'bad token'));
    if (body === undefined) {
      return reply(413, error('body_too_large', `body over ${maxBodyBytes} bytes`));
    }
    const ids = parseRequestIds(body);
    if (!ids) return reply(400, error('bad_request', 'body must be {"requestIds": string[]}'));
    call.ids = ids.length;
    if (ids.length > maxIds) {
      return reply(413, error('too_many_ids', `${ids.length} ids, at most ${maxIds} per call`));
    }

    const plan = known(faults, name).take();
    const seq = ++callSeq;
    call.faults = plan.applied;
    const { terminal } = plan;
    call.status =
      terminal?.kind === 'timeout'
        ? 0
        : terminal?.kind === 'rate-limit'
          ? 429
          : (terminal?.status ?? 200);
    if (plan.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, plan.delayMs);
        timers.add(timer);
      });
    }
    if (res.destroyed) return;
    if (terminal?.kind === 'timeout') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (terminal?.kind === 'rate-limit') {
      return send(res, 429, error('rate_limited', 'slow down'), {
        'retry-after': String(terminal.retryAfterSeconds),
      });
    }
    if (terminal?.kind === 'status') {
      return send(res, terminal.status, error('injected', `injected status ${terminal.status}`));
    }
    const answer = renderAnswer(name, ids, plan, seq);
    const done = known(answered, name);
    res.on('finish', () => {
      for (const id of answer.answeredIds) done.add(id);
    });
    send(res, 200, answer.body, {}, answer.contentType, answer.chunked);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => undefined);
    const target = route(req.url ?? '/');
    const handled = !target
      ? Promise.resolve(send(res, 404, error('not_found', `no route ${req.url}`)))
      : target.path === 'models'
        ? Promise.resolve(models(req, res, target.provider))
        : cost(req, res, target.provider);
    handled.catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, error('internal', String(err)));
      else res.destroy();
    });
  };
  const server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const base = (provider: string) => `${url}/${encodeURIComponent(provider)}`;

  return {
    url,
    port,
    costUrl: (provider) => `${base(provider)}/cost`,
    modelsUrl: (provider) => `${base(provider)}/v1/models`,
    calls: () => calls.map((c) => ({ ...c, faults: [...c.faults] })),
    resetCalls: () => {
      calls = [];
    },
    answeredIds: (provider) => new Set(known(answered, provider)),
    setFaults: (provider, list) => known(faults, provider).set(list),
    clearFaults: (provider) => {
      if (provider === undefined) for (const f of faults.values()) f.clear();
      else known(faults, provider).clear();
    },
    faults: (provider) => known(faults, provider).list(),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of hanging) res.destroy();
      const closed = new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
      server.closeAllConnections();
      await closed;
    },
  };
}
