import { performance } from 'node:perf_hooks';
import { Agent, errors, request } from 'undici';
import { isValidAlertId } from '@nanobill/contract';
import { withDefaultCas } from '@nanobill/tls';
import { ADDRESS_NOT_PUBLIC, AddressPolicy } from './address-policy.js';
import { guardedConnector, type Resolve } from './connector.js';
import {
  ALERT_ID_HEADER,
  ATTEMPT_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  type SigningSecrets,
} from './sign.js';

export interface WebhookSenderOptions {
  /** Bounds the whole attempt: connecting, TLS, waiting for the answer. Default 10 s. */
  timeoutMs?: number;
  /**
   * PEM of CAs to trust in addition to the usual public ones (tests, corporate CAs); a bundle
   * of several certificates is fine.
   */
  ca?: string | Buffer;
  /** The answer's body is read and discarded up to this many bytes. Default 64 KiB. */
  maxResponseBytes?: number;
  userAgent?: string;
  /**
   * Networks a webhook may reach besides public unicast addresses (CIDR), e.g. `127.0.0.1/32`
   * for a receiver on the same machine in tests and development. Default: none.
   */
  allowNetworks?: readonly string[];
  /** How host names are resolved (default: the system resolver); tests inject their own. */
  resolve?: Resolve;
}

export interface Delivery {
  url: string;
  /** Sent byte for byte and signed as is; the caller serialises the alert once. */
  rawBody: string | Uint8Array;
  alertId: string;
  /** 1 for the first delivery. */
  attempt: number;
  /** The account's secret in force, then a previous one still in its overlap window. */
  secrets: SigningSecrets;
}

export interface DeliveryOutcome {
  ok: boolean;
  /** null when no HTTP answer came back. */
  status: number | null;
  /**
   * A failure class, short and the same for everyone ('address not public', 'timeout',
   * 'HTTP 503', 'TLS error: …'): org admins see it, so it never carries the receiver's reply;
   * null when ok.
   */
  error: string | null;
  durationMs: number;
  /** Whether trying the same delivery again later may succeed. */
  retryable: boolean;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_USER_AGENT = 'nanobill-webhooks/0.1';

// The fields read from whatever undici or the socket rejects with.
type ErrorLike = { code?: unknown; message?: unknown; reason?: unknown; errors?: unknown };

/** Codes OpenSSL gives certificate verification failures (Node passes them through as `code`). */
const CERT_ERROR_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

const NETWORK_ERRORS: Record<string, string> = {
  ERR_WEBHOOK_ADDRESS_NOT_PUBLIC: ADDRESS_NOT_PUBLIC,
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the receiver',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
};

/** Failures that no later attempt can fix: the delivery is abandoned at once. */
const FINAL_ERRORS = new Set([ADDRESS_NOT_PUBLIC]);

/**
 * Delivers signed webhooks, one attempt per `send` (retries and their backoff belong to the
 * caller, which knows the alert's history). Redirects are never followed: a signed alert goes
 * to the URL the org registered and nowhere else. Every connection goes to a public address
 * (or an explicitly allowed network), checked on the address actually connected to.
 */
export class WebhookSender {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #userAgent: string;
  #closed = false;

  constructor(options: WebhookSenderOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
      throw new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    // Positive because undici's dump() treats a limit of 0 as "use the default".
    if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 1)
      throw new RangeError(`maxResponseBytes must be a positive integer, got ${maxResponseBytes}`);
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#agent = new Agent({
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: guardedConnector({
        policy: new AddressPolicy(options.allowNetworks),
        ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
        timeout: timeoutMs,
        // The extra CA is added to the default ones, never replacing them.
        ...(options.ca === undefined ? {} : { ca: withDefaultCas(options.ca) }),
      }),
    });
  }

  /**
   * One delivery attempt. Resolves with how it went, whatever the input: a delivery that cannot
   * be made (a bad alert id, no secret, a closed sender) is a refused outcome, never a throw.
   */
  async send(delivery: Delivery): Promise<DeliveryOutcome> {
    const { url, rawBody, alertId, attempt, secrets } = delivery;
    if (this.#closed) return refused('sender closed', true);
    if (!Number.isSafeInteger(attempt) || attempt < 1) return refused('invalid attempt number');
    // Header values with control characters would be refused by undici (or split a header).
    if (!isValidAlertId(alertId)) return refused('invalid alert id');
    if (!Array.isArray(secrets) || secrets.length === 0 || secrets.some((s) => !s))
      return refused('no signing secret', true);

    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return refused('invalid webhook URL');
    }
    // The alert and its signature must not travel in clear text.
    if (target.protocol !== 'https:') return refused('webhook URL must be https');

    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    try {
      const response = await request(target, {
        dispatcher: this.#agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#userAgent,
          // Signed when sent: a retry carries a fresh timestamp, within receivers' tolerance.
          [SIGNATURE_HEADER]: signatureHeader({
            secrets,
            rawBody,
            timestamp: Math.floor(Date.now() / 1000),
          }),
          [ALERT_ID_HEADER]: alertId,
          [ATTEMPT_HEADER]: String(attempt),
        },
        body: rawBody,
        signal,
      });
      status = response.statusCode;
      // The answer is already decided by the status; the body is drained only so the connection
      // can be reused, and a body that is too large or too slow just costs that connection.
      await response.body.dump({ limit: this.#maxResponseBytes, signal }).catch(() => {});
    } catch (error) {
      const failure = signal.aborted ? { error: 'timeout', retryable: true } : describeError(error);
      return { ok: false, status: null, durationMs: elapsed(), ...failure };
    }
    return { status, durationMs: elapsed(), ...statusOutcome(status) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#agent.close();
  }
}

function refused(error: string, retryable = false): DeliveryOutcome {
  return { ok: false, status: null, error, durationMs: 0, retryable };
}

function statusOutcome(status: number): Pick<DeliveryOutcome, 'ok' | 'error' | 'retryable'> {
  if (status >= 200 && status < 300) return { ok: true, error: null, retryable: false };
  // A moved endpoint is the org's configuration to fix; retrying cannot help.
  if (status >= 300 && status < 400)
    return { ok: false, error: `redirect not followed (HTTP ${status})`, retryable: false };
  const retryable = status === 408 || status === 429 || (status >= 500 && status < 600);
  return { ok: false, error: `HTTP ${status}`, retryable };
}

/**
 * Names a failure without an HTTP answer by its class only: codes map to fixed words, and no
 * message text goes into the result (it could quote the request, whose signature is derived
 * from the secret, or the receiver's certificate). Everything but a malformed request and a
 * refused address is retryable: refused connections and certificate problems are often fixed
 * within minutes.
 */
function describeError(error: unknown): { error: string; retryable: boolean } {
  const code = codeOf(errorLike(error));
  if (error instanceof errors.InvalidArgumentError)
    return { error: 'invalid request', retryable: false };
  if (code !== undefined && code in NETWORK_ERRORS) {
    const name = NETWORK_ERRORS[code] as string;
    return { error: name, retryable: !FINAL_ERRORS.has(name) };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return { error: 'TLS error: certificate does not match the host name', retryable: true };
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return { error: 'TLS error: certificate expired or not yet valid', retryable: true };
  if (code !== undefined && CERT_ERROR_CODES.has(code))
    return { error: 'TLS error: certificate not trusted', retryable: true };
  if (code !== undefined && /^ERR_(SSL|TLS)_/.test(code))
    return { error: 'TLS error', retryable: true };
  return {
    error: code === undefined ? 'network error' : `network error (${code})`,
    retryable: true,
  };
}

/** An error code as Node and undici write them; anything else is not repeated. */
function codeOf(found: ErrorLike): string | undefined {
  return typeof found.code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(found.code)
    ? found.code
    : undefined;
}

/** Happy Eyeballs reports every address tried in an AggregateError; the first one speaks for all. */
function errorLike(error: unknown): ErrorLike {
  if (typeof error !== 'object' || error === null) return {};
  const found = error as ErrorLike;
  if (typeof found.code !== 'string' && Array.isArray(found.errors) && found.errors.length > 0)
    return errorLike(found.errors[0]);
  return found;
}
