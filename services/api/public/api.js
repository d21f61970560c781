// @ts-check
// The org routes of the API, as the dashboard calls them: same origin, the bearer token in a
// header only, answers for a session that has ended dropped.

import { state } from './state.js';

/** @typedef {import('./state.js').Session} Session */

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {any} body
   * @param {string | null} retryAfter
   */
  constructor(status, body, retryAfter = null) {
    super(body && typeof body.error === 'string' ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** Thrown when the session ended (sign-out, 401) while a request was in flight: ignore it. */
export class SessionEnded extends Error {}

/** @type {(message: string) => void} */
let endSession = () => undefined;

/**
 * What to do when an answer says the session is over (401, or 404 for the org): set once, by the
 * sign-in module.
 *
 * @param {(message: string) => void} handler
 */
export function whenSessionEnds(handler) {
  endSession = handler;
}

/**
 * @param {string} org
 * @param {string} rest
 */
export function orgPath(org, rest) {
  return `/v1/orgs/${encodeURIComponent(org)}/${rest}`;
}

/** GET answers kept per session to revalidate with their ETag: the usage graph's 4 ranges × 4 groupings. */
export const MAX_REVALIDATED_ANSWERS = 16;
/** @type {WeakMap<Session, Map<string, { etag: string, body: any }>>} */
const revalidated = new WeakMap();

/**
 * The answers kept for a session (a new session starts with none: nothing of another org).
 *
 * @param {Session} forSession
 */
function keptAnswers(forSession) {
  let kept = revalidated.get(forSession);
  if (kept === undefined) revalidated.set(forSession, (kept = new Map()));
  return kept;
}

/**
 * @param {Session} forSession
 * @param {string} method
 * @param {string} rest path under /v1/orgs/{org}/
 * @param {{ body?: unknown, signal?: AbortSignal, revalidate?: boolean }} [options]
 *   revalidate: a GET whose answer is kept with its ETag and asked for again with If-None-Match;
 *   a 304 gives the kept answer back without its body crossing the network again.
 * @returns {Promise<any>}
 */
export async function api(forSession, method, rest, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', Authorization: `Bearer ${forSession.token}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const kept = options.revalidate && method === 'GET' ? keptAnswers(forSession) : undefined;
  const previous = kept?.get(rest);
  if (previous) headers['If-None-Match'] = previous.etag;
  let response;
  try {
    response = await fetch(orgPath(forSession.org, rest), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw new ApiError(0, null);
  }
  if (response.status === 304 && previous) {
    if (forSession !== state.session) throw new SessionEnded();
    return previous.body;
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (forSession !== state.session) throw new SessionEnded();
  if (response.status === 401) {
    endSession(
      'Signed out: the token is missing, unknown or expired (401). Sign in again with a valid token.',
    );
    throw new SessionEnded();
  }
  if (response.status === 404 && rest !== 'settings') {
    endSession(`This token does not give access to the org “${forSession.org}” (404).`);
    throw new SessionEnded();
  }
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get('Retry-After'));
  const etag = response.headers.get('ETag');
  if (kept && etag) {
    // Most recently used last; the oldest goes past the bound.
    kept.delete(rest);
    kept.set(rest, { etag, body });
    if (kept.size > MAX_REVALIDATED_ANSWERS) kept.delete(kept.keys().next().value ?? '');
  }
  return body;
}

/**
 * A failed load, in words for the person (what failed, and what to do).
 *
 * @param {unknown} error
 * @param {string} what
 */
export function describeError(error, what) {
  if (error instanceof ApiError) {
    if (error.status === 0)
      return `Could not reach the server to load ${what}. Check the connection and try Refresh.`;
    if (error.status === 429) {
      const wait =
        error.retryAfter && /^\d+$/.test(error.retryAfter)
          ? ` in ${error.retryAfter} s`
          : ' shortly';
      return `Too many requests while loading ${what} (429). Try again${wait}.`;
    }
    if (error.status >= 500)
      return `The server failed to load ${what} (${error.status}). Try Refresh.`;
    return `Could not load ${what}: ${error.message} (${error.status}).`;
  }
  return `Could not load ${what}: ${error instanceof Error ? error.message : String(error)}.`;
}
