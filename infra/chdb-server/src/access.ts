import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { RefusedRequest, shown } from './errors.js';

/** The one user: `@clickhouse/client`'s default name, so a URL needs only the password. */
export const CHDB_SERVER_USER = 'default';

/** Names a loopback client reaches the server by; the rest of 127.0.0.0/8 is never needed. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Headers that only web browsers send. A request with `Origin` comes from a page's fetch or form;
 * `Sec-Fetch-*` also marks the requests browsers send without `Origin` (an `<img src>`, a link).
 * nanobill's clients never send either.
 */
const BROWSER_HEADERS = ['origin', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest'];

const accessDenied = (message: string) => new RefusedRequest(403, 'ACCESS_DENIED', message);

/** Any request a web browser sent is refused: no page may drive the engine, with or without CORS. */
export function refuseBrowsers(headers: IncomingHttpHeaders): void {
  const sent = BROWSER_HEADERS.find((name) => headers[name] !== undefined);
  if (sent !== undefined) {
    throw accessDenied(`Requests from web browsers are not accepted (${sent} header)`);
  }
}

export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return (
    name === 'localhost' || name === '::1' || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name)
  );
}

/** `::1` and `[::1]` name the same host; a Host header always brackets IPv6. */
function hostName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/**
 * The Host header must name this server: a loopback name, or one the operator allowed, with the
 * port the connection arrived on. A page that rebinds its own name to 127.0.0.1 sends its name.
 */
export function hostChecker(
  allowedHosts: readonly string[],
): (host: string | undefined, port: number) => void {
  const names = new Set([...LOOPBACK_NAMES, ...allowedHosts.map(hostName)]);
  return (host, port) => {
    const parsed =
      host === undefined ? undefined : /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host);
    const name = parsed?.[1]?.toLowerCase();
    const hostPort = parsed?.[2] === undefined ? 80 : Number(parsed[2]);
    if (name === undefined || !names.has(name) || hostPort !== port) {
      throw accessDenied(
        `Host ${shown(host ?? '')} is not this server's address (DNS rebinding is refused)`,
      );
    }
  };
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

const authenticationFailed = (status: 401 | 403, message: string) =>
  new RefusedRequest(status, 'AUTHENTICATION_FAILED', message);

/**
 * Checks the credentials `@clickhouse/client` sends (HTTP Basic, or ClickHouse's
 * `X-ClickHouse-User`/`X-ClickHouse-Key` headers). Both sides are hashed first, so the
 * comparison takes the same time whatever the guess, its length included. Messages never echo
 * what was sent.
 */
export function authenticator(
  password: string,
): (headers: IncomingHttpHeaders, searchParams: URLSearchParams) => void {
  const expectedUser = sha256(CHDB_SERVER_USER);
  const expectedPassword = sha256(password);
  return (headers, searchParams) => {
    if (searchParams.has('user') || searchParams.has('password')) {
      throw authenticationFailed(
        403,
        'Credentials in URL parameters are not accepted (URLs end up in logs): send them as HTTP Basic authentication',
      );
    }
    const given = sentCredentials(headers);
    // Both comparisons always run: which part was wrong takes no longer to find out.
    const userMatches = timingSafeEqual(sha256(given.user), expectedUser);
    const passwordMatches = timingSafeEqual(sha256(given.password), expectedPassword);
    if (!(userMatches && passwordMatches)) {
      throw authenticationFailed(
        403,
        'Authentication failed: password is incorrect, or there is no user with such name',
      );
    }
  };
}

function sentCredentials(headers: IncomingHttpHeaders): { user: string; password: string } {
  const authorization = headers.authorization;
  const user = headers['x-clickhouse-user'];
  const key = headers['x-clickhouse-key'];
  if (authorization !== undefined && (user !== undefined || key !== undefined)) {
    throw authenticationFailed(
      403,
      'Authentication failed: both an Authorization header and X-ClickHouse-User/X-ClickHouse-Key headers were sent',
    );
  }
  if (authorization !== undefined) return basicCredentials(authorization);
  if (typeof user === 'string' || typeof key === 'string') {
    return {
      user: typeof user === 'string' ? user : CHDB_SERVER_USER,
      password: String(key ?? ''),
    };
  }
  throw authenticationFailed(
    401,
    `Authentication required: send user ${CHDB_SERVER_USER} and the password as HTTP Basic authentication`,
  );
}

function basicCredentials(authorization: string): { user: string; password: string } {
  const encoded = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization.trim())?.[1];
  const decoded = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw authenticationFailed(
      403,
      'Authentication failed: the Authorization header is not HTTP Basic with user:password',
    );
  }
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
