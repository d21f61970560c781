// Attacks on the chdb server (ClickHouse's HTTP interface over embedded chdb): what a web page
// open on the same machine, a DNS-rebinding site, or a client with credentials can try.
import { once } from 'node:events';
import { mkdtempSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseError } from '@clickhouse/client';
import { openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { createLogger } from '@nanobill/observability';
import { startChdbServer, type ChdbServer } from '@nanobill/chdb-server';

const PASSWORD = 'correct-horse-battery-staple-0123456789';
const MiB = 1024 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly the headers given (Host included), as an attacker sends it. */
function send(
  base: string,
  options: {
    method?: 'GET' | 'POST';
    path?: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: Buffer | string;
  },
): Promise<Answer> {
  const target = new URL(options.path ?? '/', base);
  for (const [k, v] of Object.entries(options.query ?? {})) target.searchParams.set(k, v);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: options.method ?? 'POST', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = { authorization: basic('default', PASSWORD) };

/** `bytes` of zeros, gzipped without ever holding them: the size of a bomb, not of its payload. */
async function gzippedZeros(bytes: number): Promise<Buffer> {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(MiB);
  for (let sent = 0; sent < bytes; sent += zeros.length) {
    if (!gzip.write(zeros)) await once(gzip, 'drain');
  }
  gzip.end();
  await once(gzip, 'end');
  return Buffer.concat(out);
}

describe('chdb server under attack', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nanobill-hostile-chdb-server-'));
  const logged: string[] = [];
  let server: ChdbServer;
  let base: string;
  let port: string;
  let client: ClickHouseClient;

  const rows = async (query: string) => {
    const result = await client.query({ query, format: 'JSONEachRow' });
    return result.json<Record<string, unknown>>();
  };
  const victimRows = () => rows('SELECT id FROM default.victim ORDER BY id');

  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString());
        done();
      },
    });
    server = await startChdbServer({
      dataDir,
      port: 0,
      password: PASSWORD,
      logger: pino({ level: 'trace' }, logStream),
    });
    base = server.url;
    port = new URL(base).port;
    const withCredentials = new URL(base);
    withCredentials.username = 'default';
    withCredentials.password = PASSWORD;
    client = openClickHouse({ url: withCredentials.href, dataDir });
    await client.command({
      query: 'CREATE TABLE default.victim (id UInt32) ENGINE = MergeTree ORDER BY id',
    });
    await client.command({ query: 'INSERT INTO default.victim VALUES (1), (2), (3)' });
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  describe('credentials', () => {
    const expectAuthenticationFailed = (answer: Answer) => {
      expect([401, 403]).toContain(answer.status);
      expect(answer.headers['x-clickhouse-exception-code']).toBe('516');
      expect(answer.body).toMatch(/^Code: 516\. DB::Exception: .*\(AUTHENTICATION_FAILED\)/);
    };

    it('refuses a request without credentials, before running anything', async () => {
      const answer = await send(base, {
        body: 'CREATE TABLE default.pwned_no_auth (x UInt8) ENGINE = Memory',
      });
      expectAuthenticationFailed(answer);
      expect(await rows('EXISTS TABLE default.pwned_no_auth')).toEqual([{ result: 0 }]);
    });

    it('refuses the <img src> attack: GET with the query in the URL, no credentials', async () => {
      expectAuthenticationFailed(
        await send(base, { method: 'GET', query: { query: 'SELECT * FROM default.victim' } }),
      );
    });

    it('refuses a wrong password and a wrong user, through the real client as a ClickHouseError', async () => {
      for (const [user, password] of [
        ['default', 'wrong-password'],
        ['default', ''],
        ['admin', PASSWORD],
        ['default', `${PASSWORD}x`],
      ] as const) {
        const url = new URL(base);
        url.username = user;
        url.password = password;
        const wrong = openClickHouse({ url: url.href, dataDir });
        try {
          const error = await wrong
            .query({ query: 'SELECT 1', format: 'JSONEachRow' })
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ClickHouseError);
          expect(error).toMatchObject({ code: '516', type: 'AUTHENTICATION_FAILED' });
        } finally {
          await wrong.close();
        }
      }
    });

    it('accepts the right password through the real client, and in X-ClickHouse-User/Key', async () => {
      expect(await rows('SELECT count() AS n FROM default.victim')).toEqual([{ n: '3' }]);
      const answer = await send(base, {
        body: 'SELECT 42',
        headers: { 'x-clickhouse-user': 'default', 'x-clickhouse-key': PASSWORD },
      });
      expect(answer).toMatchObject({ status: 200, body: '42\n' });
    });

    it('refuses credentials in URL parameters (they end up in logs), without echoing them', async () => {
      const answer = await send(base, {
        query: { user: 'default', password: PASSWORD },
        body: 'SELECT 1',
      });
      expectAuthenticationFailed(answer);
      expect(answer.body).not.toContain(PASSWORD);
    });

    it('refuses malformed and ambiguous Authorization headers', async () => {
      for (const headers of [
        { authorization: `Bearer ${PASSWORD}` },
        { authorization: 'Basic !!!' },
        { authorization: `Basic ${Buffer.from(PASSWORD).toString('base64')}` },
        { ...AUTH, 'x-clickhouse-user': 'default', 'x-clickhouse-key': 'other' },
      ]) {
        expectAuthenticationFailed(await send(base, { body: 'SELECT 1', headers }));
      }
    });

    it('never writes a password, right or wrong, into its log', async () => {
      await send(base, {
        body: 'SELECT 1',
        headers: { authorization: basic('default', 'x-secret-guess') },
      });
      await send(base, { body: 'SELECT no_such_column', headers: AUTH });
      expect(logged.join('')).not.toContain(PASSWORD);
      expect(logged.join('')).not.toContain('x-secret-guess');
    });
  });

  describe('GET is read-only, as on a ClickHouse server', () => {
    const outside = mkdtempSync(join(tmpdir(), 'nanobill-hostile-outside-'));
    it.each([
      'DROP TABLE default.victim',
      'INSERT INTO default.victim VALUES (66)',
      'CREATE TABLE default.pwned_get (x UInt8) ENGINE = Memory',
      'ALTER TABLE default.victim DELETE WHERE 1',
      'TRUNCATE TABLE default.victim',
      'RENAME TABLE default.victim TO default.renamed',
      `INSERT INTO FUNCTION file('${outside}/function.tsv', 'TSV', 'x UInt8') VALUES (1)`,
      `SELECT 1 INTO OUTFILE '${outside}/outfile.tsv'`,
      `SELECT * FROM file('/etc/passwd', 'LineAsString')`,
      `SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')`,
      'CREATE TEMPORARY TABLE pwned_temporary (x UInt8)',
      'KILL QUERY WHERE 1',
      'SELECT 1; DROP TABLE default.victim',
      'INSERT INTO default.victim FORMAT TSV\n7\n\n\nSELECT 1',
    ])('refuses %s even with credentials', async (sql) => {
      const answer = await send(base, { method: 'GET', query: { query: sql }, headers: AUTH });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.body).toMatch(/READONLY|readonly|Multi-statements/);
      expect(await victimRows()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      expect(await rows('EXISTS TABLE default.pwned_get')).toEqual([{ result: 0 }]);
      expect(readdirSync(outside)).toEqual([]);
    });

    it('refuses a GET that asks to lift read-only itself', async () => {
      const answer = await send(base, {
        method: 'GET',
        query: { query: 'DROP TABLE default.victim', readonly: '0' },
        headers: AUTH,
      });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(await victimRows()).toHaveLength(3);
    });

    it('still answers a GET that reads', async () => {
      const answer = await send(base, {
        method: 'GET',
        query: { query: 'SELECT count() FROM default.victim' },
        headers: AUTH,
      });
      expect(answer).toMatchObject({ status: 200, body: '3\n' });
    });
  });

  describe('browsers and DNS rebinding', () => {
    it.each(['GET', 'POST'] as const)(
      'refuses a %s that carries an Origin header, credentials or not',
      async (method) => {
        for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port}`]) {
          const answer = await send(base, {
            method,
            query: { query: 'CREATE TABLE default.pwned_origin (x UInt8) ENGINE = Memory' },
            headers: { ...AUTH, origin },
          });
          expect(answer.status).toBe(403);
          expect(answer.headers['access-control-allow-origin']).toBeUndefined();
          expect(answer.body).toMatch(/^Code: 497\. DB::Exception: .*\(ACCESS_DENIED\)/);
        }
        expect(await rows('EXISTS TABLE default.pwned_origin')).toEqual([{ result: 0 }]);
      },
    );

    it('refuses what browsers send without an Origin (no-cors GET: Sec-Fetch-*)', async () => {
      const answer = await send(base, {
        method: 'GET',
        query: { query: 'SELECT 1' },
        headers: { ...AUTH, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
      });
      expect(answer.status).toBe(403);
    });

    it('refuses a CORS preflight', async () => {
      const answer = await new Promise<number>((resolve, reject) => {
        const req = request(new URL('/', base), {
          method: 'OPTIONS',
          headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
        });
        req.on('response', (res) => {
          res.resume();
          expect(res.headers['access-control-allow-origin']).toBeUndefined();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      expect(answer).toBe(403);
    });

    it('refuses a Host that is not a loopback name with its port (DNS rebinding)', async () => {
      for (const host of [
        `evil.example:${port}`,
        'rebind.attacker.example',
        `127.0.0.1.nip.io:${port}`,
        '127.0.0.1:1',
        '127.0.0.1',
        `localhost.:${port}`,
      ]) {
        const answer = await send(base, {
          query: { query: 'SELECT 1' },
          headers: { ...AUTH, host },
        });
        expect(answer.status, host).toBe(403);
        expect(answer.body).toMatch(/ACCESS_DENIED/);
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        const answer = await send(base, {
          query: { query: 'SELECT 1' },
          headers: { ...AUTH, host },
        });
        expect(answer.status, host).toBe(200);
      }
    });

    it('refuses to listen on a non-loopback address unless told which Host names are its own', async () => {
      await expect(
        startChdbServer({
          dataDir,
          port: 0,
          host: '0.0.0.0',
          password: PASSWORD,
          logger: createLogger({ level: 'silent' }),
        }),
      ).rejects.toThrow(/loopback/);
    });

    it('listens beyond loopback only for the host names it is told are its own', async () => {
      const remote = await startChdbServer({
        dataDir,
        port: 0,
        host: '0.0.0.0',
        allowedHosts: ['billing-db.internal'],
        password: PASSWORD,
        logger: createLogger({ level: 'silent' }),
      });
      try {
        const remotePort = new URL(remote.url).port;
        const at = `http://127.0.0.1:${remotePort}`;
        const ask = (host: string) =>
          send(at, { query: { query: 'SELECT 1' }, headers: { ...AUTH, host } });
        expect((await ask(`billing-db.internal:${remotePort}`)).status).toBe(200);
        expect((await ask(`evil.example:${remotePort}`)).status).toBe(403);
        expect((await ask(`billing-db.internal:${port}`)).status).toBe(403);
      } finally {
        await remote.close();
      }
    });
  });

  describe('bodies', () => {
    it('refuses a gzip bomb without inflating it into memory, and keeps serving', async () => {
      const bomb = await gzippedZeros(1024 * MiB);
      expect(bomb.length).toBeLessThan(2 * MiB);
      const rssBefore = process.memoryUsage().rss;
      const answer = await send(base, {
        query: { query: 'INSERT INTO default.victim FORMAT RowBinary' },
        headers: { ...AUTH, 'content-encoding': 'gzip' },
        body: bomb,
      });
      const peakGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;
      console.log(
        `chdb-server: a ${bomb.length}-byte gzip of 1 GiB refused; peak RSS grew ${(peakGrowth / MiB).toFixed(0)} MiB`,
      );
      // the server runs in this process: its peak memory grew by far less than the bomb's GiB
      expect(peakGrowth).toBeLessThan(512 * MiB);
      expect(answer.status).toBe(413);
      expect(answer.body).toMatch(/^Code: 229\. DB::Exception: .*\(QUERY_IS_TOO_LARGE\)/);
      expect(await victimRows()).toHaveLength(3);
    });

    it('refuses a body over its limit, sent or inflated, and keeps serving', async () => {
      const small = await startChdbServer({
        dataDir,
        port: 0,
        password: PASSWORD,
        limits: { maxBodyBytes: 64 * 1024, maxInflatedBodyBytes: 256 * 1024 },
        logger: createLogger({ level: 'silent' }),
      });
      try {
        const insert = { query: 'INSERT INTO default.victim FORMAT TSV' };
        const raw = await send(small.url, {
          query: insert,
          headers: AUTH,
          body: Buffer.from('8\n'.repeat(512 * 1024)),
        });
        expect(raw.status).toBe(413);
        expect(raw.body).toMatch(/\(QUERY_IS_TOO_LARGE\)/);
        const inflated = await send(small.url, {
          query: insert,
          headers: { ...AUTH, 'content-encoding': 'gzip' },
          body: gzipSync(Buffer.from('9\n'.repeat(512 * 1024))),
        });
        expect(inflated.status).toBe(413);
        expect(inflated.body).toMatch(/inflates to more than 262144 bytes/);
        const fine = await send(small.url, {
          headers: AUTH,
          body: 'SELECT count() FROM default.victim',
        });
        expect(fine).toMatchObject({ status: 200, body: '3\n' });
      } finally {
        await small.close();
      }
    });

    it('refuses nested and unknown encodings, and a body that is not gzip', async () => {
      for (const [encoding, body] of [
        ['gzip, gzip', gzipSync(gzipSync('SELECT 1'))],
        ['br', Buffer.from('SELECT 1')],
        ['gzip', Buffer.from('SELECT 1')],
      ] as const) {
        const answer = await send(base, {
          headers: { ...AUTH, 'content-encoding': encoding },
          body,
        });
        expect(answer.status, encoding).toBe(400);
        expect(answer.body).toMatch(/^Code: \d+\. DB::Exception: .*\([A-Z_]+\)/);
      }
    });

    it('still takes a gzipped insert', async () => {
      const answer = await send(base, {
        query: { query: 'INSERT INTO default.victim FORMAT JSONEachRow' },
        headers: { ...AUTH, 'content-encoding': 'gzip' },
        body: gzipSync('{"id":4}\n'),
      });
      expect(answer.status).toBe(200);
      expect(await victimRows()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
      await client.command({ query: 'DELETE FROM default.victim WHERE id = 4' });
    });

    it('takes an output format as a name only', async () => {
      for (const format of ['TSV; DROP TABLE default.victim', 'TSV\r\nSet-Cookie: pwned=1']) {
        const answer = await send(base, {
          query: { query: 'SELECT 1', default_format: format },
          headers: AUTH,
        });
        expect(answer.status).toBe(400);
        expect(answer.headers['set-cookie']).toBeUndefined();
      }
      expect(await victimRows()).toHaveLength(3);
    });

    it('does not let a query id inject response headers', async () => {
      const answer = await send(base, {
        query: { query: 'SELECT 1', query_id: 'x\r\nSet-Cookie: pwned=1' },
        headers: AUTH,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['set-cookie']).toBeUndefined();
    });
  });

  describe("one request's SET never reaches a later request", () => {
    const threeRows = 'SELECT number FROM numbers(3)';

    it.each([
      'SET max_result_rows = 1',
      'SELECT 1; SET max_result_rows = 1',
      'SET readonly = 1',
      'SET readonly = 2',
    ])('%s', async (sql) => {
      await client.command({ query: sql }).catch(() => undefined);
      expect(await rows(threeRows)).toHaveLength(3);
      await client.command({ query: 'INSERT INTO default.victim VALUES (5)' });
      await client.command({ query: 'DELETE FROM default.victim WHERE id = 5' });
    });

    it('in an insert body, after a blank line (chdb ends inline data there)', async () => {
      await send(base, {
        query: { query: 'INSERT INTO default.victim FORMAT JSONEachRow' },
        headers: AUTH,
        body: '{"id":6}\n\n\nSET max_result_rows = 1\n',
      });
      expect(await rows(threeRows)).toHaveLength(3);
      await client.command({ query: 'DELETE FROM default.victim WHERE id = 6' });
    });

    it('on a read-only GET', async () => {
      const sql = 'SELECT 1; SET max_result_rows = 1';
      await send(base, { method: 'GET', query: { query: sql }, headers: AUTH });
      const answer = await send(base, {
        method: 'GET',
        query: { query: threeRows },
        headers: AUTH,
      });
      expect(answer.body).toBe('0\n1\n2\n');
    });

    it('USE, query parameters and temporary tables stay in their request too', async () => {
      await client.command({ query: 'USE system' });
      expect(await rows('SELECT currentDatabase() AS db')).toEqual([{ db: 'default' }]);
      await client.command({ query: 'SET param_leaked = 5' });
      await expect(rows('SELECT {leaked:UInt8} AS v')).rejects.toThrow(/leaked/);
      await client.command({ query: 'CREATE TEMPORARY TABLE leaked (x UInt8)' });
      await expect(rows('SELECT * FROM leaked')).rejects.toThrow(/UNKNOWN_TABLE|leaked/);
    });
  });
});
