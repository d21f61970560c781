import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ALERT_ID_HEADER,
  ATTEMPT_HEADER,
  SIGNATURE_HEADER,
  WebhookSender,
  verifyWebhook,
  type DeliveryOutcome,
  type Resolve,
} from '../src/index.js';

const secret = 'whsec_do-not-leak-me';
/** The receiver runs on 127.0.0.1: reachable only with this allowance. */
const LOCAL = ['127.0.0.1/32'];
/** A name of the test's own, resolving to the receiver (no DNS involved). */
const RECEIVER_NAME = 'receiver.test';
const resolveReceiver: Resolve = async (hostname) =>
  hostname === RECEIVER_NAME ? [{ address: '127.0.0.1', family: 4 }] : [];
const rawBody = '{"alert":"budget_exceeded","orgId":"org_1","amount":"12.000000001"}';

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the receiver does with each request; replaced per test. */
type Behaviour = (res: ServerResponse) => void;

let cert: string;
let server: HttpsServer;
let base: string;
let behaviour: Behaviour;
const received: Received[] = [];
const senders: WebhookSender[] = [];

function sender(options: ConstructorParameters<typeof WebhookSender>[0] = {}) {
  const created = new WebhookSender({
    ca: cert,
    allowNetworks: LOCAL,
    resolve: resolveReceiver,
    ...options,
  });
  senders.push(created);
  return created;
}

function delivery(url = `${base}/hooks/nanobill?org=1`) {
  return { url, rawBody, alertId: 'alrt_01HZX', attempt: 3, secrets: [secret] };
}

async function listening<T extends Server | HttpsServer>(target: T): Promise<number> {
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  return (target.address() as AddressInfo).port;
}

function expectNoSecret(outcome: DeliveryOutcome) {
  expect(JSON.stringify(outcome)).not.toContain(secret);
}

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: RECEIVER_NAME },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  cert = pems.cert;
  server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      behaviour(res);
    });
  });
  base = `https://127.0.0.1:${await listening(server)}`;
});

afterEach(async () => {
  received.length = 0;
  await Promise.all(senders.splice(0).map((s) => s.close()));
  // Connections left hanging by the time-out test must not outlive it.
  server.closeAllConnections();
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('WebhookSender', () => {
  it('delivers the exact body, signed, with the alert headers', async () => {
    behaviour = (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    const before = Math.floor(Date.now() / 1000);
    const outcome = await sender({ userAgent: 'nanobill-test/1' }).send(delivery());

    expect(outcome).toMatchObject({ ok: true, status: 200, error: null, retryable: false });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hooks/nanobill?org=1');
    expect(request?.body.toString('utf8')).toBe(rawBody);
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['content-length']).toBe(String(Buffer.byteLength(rawBody)));
    expect(headers['user-agent']).toBe('nanobill-test/1');
    expect(headers[ALERT_ID_HEADER]).toBe('alrt_01HZX');
    expect(headers[ATTEMPT_HEADER]).toBe('3');
    const header = headers[SIGNATURE_HEADER];
    const check = (secrets: string[]) => verifyWebhook({ header, rawBody: request!.body, secrets });
    expect(check([secret])).toBe(true);
    expect(check(['another secret'])).toBe(false);
    const timestamp = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(String(header))?.[1]);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('sends a byte body unchanged, and reaches the receiver by host name too', async () => {
    behaviour = (res) => res.writeHead(204).end();
    const bytes = new Uint8Array([0x7b, 0x22, 0xc3, 0xa9, 0x22, 0x3a, 0x30, 0x7d]);
    const url = `${base.replace('127.0.0.1', RECEIVER_NAME)}/hook`;
    const outcome = await sender().send({ ...delivery(url), rawBody: bytes });
    expect(outcome).toMatchObject({ ok: true, status: 204 });
    expect(received[0]?.body.equals(bytes)).toBe(true);
    const header = received[0]?.headers[SIGNATURE_HEADER];
    expect(verifyWebhook({ header, rawBody: bytes, secrets: [secret] })).toBe(true);
  });

  it('signs with every secret given: the one in force and, in an overlap, the previous one', async () => {
    behaviour = (res) => res.writeHead(200).end();
    await sender().send({ ...delivery(), secrets: ['new-secret', 'old-secret'] });
    const header = received[0]?.headers[SIGNATURE_HEADER];
    expect(String(header)).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    for (const one of ['new-secret', 'old-secret']) {
      expect(verifyWebhook({ header, rawBody, secrets: [one] })).toBe(true);
    }
    expect(verifyWebhook({ header, rawBody, secrets: [secret] })).toBe(false);
  });

  it('discards a large answer and stays usable', async () => {
    behaviour = (res) => res.writeHead(200).end(Buffer.alloc(1024 * 1024, 'x'));
    const client = sender({ maxResponseBytes: 1024 });
    expect(await client.send(delivery())).toMatchObject({ ok: true, status: 200 });
    behaviour = (res) => res.writeHead(202).end();
    expect(await client.send(delivery())).toMatchObject({ ok: true, status: 202 });
  });

  it.each([500, 502, 503, 504, 408, 429])('HTTP %i is retryable', async (status) => {
    behaviour = (res) => res.writeHead(status).end('try later');
    const outcome = await sender().send(delivery());
    expect(outcome).toMatchObject({ ok: false, status, error: `HTTP ${status}`, retryable: true });
    expectNoSecret(outcome);
  });

  it.each([400, 401, 403, 404, 410, 413, 422])('HTTP %i is not retryable', async (status) => {
    behaviour = (res) => res.writeHead(status).end('no');
    const outcome = await sender().send(delivery());
    expect(outcome).toMatchObject({ ok: false, status, error: `HTTP ${status}`, retryable: false });
  });

  it('does not follow a redirect', async () => {
    behaviour = (res) => res.writeHead(302, { location: `${base}/elsewhere` }).end();
    const outcome = await sender().send(delivery());
    expect(outcome).toEqual({
      ok: false,
      status: 302,
      error: 'redirect not followed (HTTP 302)',
      durationMs: expect.any(Number),
      retryable: false,
    });
    expect(received.map((r) => r.url)).toEqual(['/hooks/nanobill?org=1']);
  });

  it('gives up on a receiver that never answers', async () => {
    behaviour = () => {};
    const outcome = await sender({ timeoutMs: 300 }).send(delivery());
    expect(outcome).toMatchObject({ ok: false, status: null, error: 'timeout', retryable: true });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(250);
    expect(outcome.durationMs).toBeLessThan(3_000);
  });

  it('reports a refused connection as retryable', async () => {
    const closed = createHttpServer();
    const port = await listening(closed);
    await new Promise((resolve) => closed.close(resolve));
    for (const host of ['127.0.0.1', RECEIVER_NAME]) {
      const outcome = await sender().send(delivery(`https://${host}:${port}/hook`));
      expect(outcome).toMatchObject({
        ok: false,
        status: null,
        error: 'connection refused',
        retryable: true,
      });
      expectNoSecret(outcome);
    }
  });

  it.each([
    ['http://127.0.0.1:1/hook', 'webhook URL must be https'],
    ['ftp://example.com/hook', 'webhook URL must be https'],
    ['not a url', 'invalid webhook URL'],
  ])('refuses %s without sending anything', async (url, error) => {
    behaviour = (res) => res.writeHead(200).end();
    const outcome = await sender().send(delivery(url));
    expect(outcome).toEqual({ ok: false, status: null, error, durationMs: 0, retryable: false });
    expect(received).toHaveLength(0);
  });

  it('fails with a TLS error, not a throw, on a certificate it does not trust', async () => {
    behaviour = (res) => res.writeHead(200).end();
    const outcome = await new WebhookSender({ allowNetworks: LOCAL }).send(delivery());
    expect(outcome).toMatchObject({
      ok: false,
      status: null,
      error: 'TLS error: certificate not trusted',
      retryable: true,
    });
    expectNoSecret(outcome);
    expect(received).toHaveLength(0);
  });

  it('fails with a TLS error when the receiver does not speak TLS', async () => {
    const plain = createHttpServer((_req, res) => res.writeHead(200).end());
    const port = await listening(plain);
    try {
      const outcome = await sender().send(delivery(`https://127.0.0.1:${port}/hook`));
      expect(outcome).toMatchObject({ ok: false, status: null, retryable: true });
      expect(outcome.error).toMatch(/^TLS error/);
      expectNoSecret(outcome);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('reports the caller’s mistakes as refused deliveries, never as a throw', async () => {
    const client = sender();
    const refused = (error: string, retryable = false) => ({
      ok: false,
      status: null,
      error,
      durationMs: 0,
      retryable,
    });
    expect(await client.send({ ...delivery(), attempt: 0 })).toEqual(
      refused('invalid attempt number'),
    );
    for (const alertId of ['', 'a\r\nx-evil: 1', 'a b', 'é', 'x'.repeat(257), 'a\u0000b']) {
      expect(await client.send({ ...delivery(), alertId })).toEqual(refused('invalid alert id'));
    }
    expect(await client.send({ ...delivery(), secrets: [] })).toEqual(
      refused('no signing secret', true),
    );
    expect(await client.send({ ...delivery(), secrets: [''] })).toEqual(
      refused('no signing secret', true),
    );
    await client.close();
    expect(await client.send(delivery())).toEqual(refused('sender closed', true));
    expect(() => new WebhookSender({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new WebhookSender({ maxResponseBytes: 0 })).toThrow(RangeError);
    expect(() => new WebhookSender({ allowNetworks: ['10.0.0.0'] })).toThrow(RangeError);
    expect(received).toHaveLength(0);
  });
});

describe('WebhookSender: public addresses only', () => {
  const notPublic = {
    ok: false,
    status: null,
    error: 'address not public',
    durationMs: expect.any(Number),
    retryable: false,
  };

  it.each([
    ['an address literal', () => base],
    ['IPv4 in decimal', () => base.replace('127.0.0.1', '2130706433')],
    ['IPv4 in hex', () => base.replace('127.0.0.1', '0x7f.1')],
    ['IPv4 in octal', () => base.replace('127.0.0.1', '0177.0.0.1')],
    ['IPv4-mapped IPv6', () => base.replace('127.0.0.1', '[::ffff:127.0.0.1]')],
    ['IPv6 loopback', () => base.replace('127.0.0.1', '[::1]')],
    ['localhost', () => base.replace('127.0.0.1', 'localhost')],
    ['localhost. with the trailing dot', () => base.replace('127.0.0.1', 'localhost.')],
    ['a name under .localhost', () => base.replace('127.0.0.1', 'api.localhost')],
    ['a name resolving to the receiver', () => base.replace('127.0.0.1', RECEIVER_NAME)],
    ['0.0.0.0', () => base.replace('127.0.0.1', '0.0.0.0')],
  ])('refuses %s without the allowance, before sending anything', async (_name, url) => {
    behaviour = (res) => res.writeHead(200).end();
    const outcome = await sender({ allowNetworks: [] }).send(delivery(`${url()}/hook`));
    expect(outcome).toEqual(notPublic);
    expect(received).toHaveLength(0);
  });

  it('connects only to the allowed addresses a name resolves to', async () => {
    behaviour = (res) => res.writeHead(200).end();
    // A name that answers a private address and the receiver's: the allowed one is used.
    const mixed: Resolve = async () => [
      { address: '10.0.0.1', family: 4 },
      { address: '169.254.169.254', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const url = `${base.replace('127.0.0.1', RECEIVER_NAME)}/hook`;
    expect(await sender({ resolve: mixed }).send(delivery(url))).toMatchObject({ ok: true });
    // Without the allowance no address is left, and nothing is sent.
    const outcome = await sender({ resolve: mixed, allowNetworks: [] }).send(delivery(url));
    expect(outcome).toEqual(notPublic);
    expect(received).toHaveLength(1);
  });

  it('re-checks every delivery: a name that starts resolving to a private address is refused', async () => {
    behaviour = (res) => res.writeHead(200).end();
    let answer = '127.0.0.1';
    const rebinding: Resolve = async () => [{ address: answer, family: 4 }];
    // Allowed: 127.0.0.1 only (standing in for the public address of a real receiver).
    const client = sender({ resolve: rebinding, allowNetworks: LOCAL });
    const url = `${base.replace('127.0.0.1', RECEIVER_NAME)}/hook`;
    expect(await client.send(delivery(url))).toMatchObject({ ok: true });
    answer = '127.0.0.2';
    // A fresh connection (a kept-alive one stays with the address it was checked for).
    const next = sender({ resolve: rebinding, allowNetworks: LOCAL });
    expect(await next.send(delivery(url))).toEqual(notPublic);
    expect(received).toHaveLength(1);
  });

  it('reports an unknown name as such', async () => {
    const outcome = await sender().send(delivery('https://unknown.test/hook'));
    expect(outcome).toMatchObject({ ok: false, status: null, error: 'host not found' });
  });
});
