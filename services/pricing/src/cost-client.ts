import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type RetryPolicy } from '@nanobill/retry';
import { Pool, errors } from 'undici';
import {
  providerConnectOptions,
  providerToken,
  readCapped,
  type RemoteProvider,
} from '@nanobill/providers';

/** How one call to a cost endpoint ended. Retryable outcomes are retried with backoff. */
export type CallOutcome =
  | { outcome: 'ok'; body: unknown }
  | { outcome: 'rate_limited'; retryAfterMs?: number; detail: string }
  | { outcome: 'server_error' | 'timeout' | 'network_error'; detail: string }
  | {
      outcome:
        | 'unauthorized'
        | 'client_error'
        | 'wrong_content_type'
        | 'oversized_body'
        | 'malformed_json'
        | 'no_token';
      detail: string;
    };

export type Outcome = CallOutcome['outcome'];

const RETRYABLE = new Set<Outcome>(['rate_limited', 'server_error', 'timeout', 'network_error']);

/** 10,000 answers of ~100 bytes each fit in 1 MiB; four times that is generous. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * One provider's cost endpoint over an undici pool bound to its configured origin: requests
 * never go anywhere else, redirects are not followed (undici's `request` does not), and the
 * bearer token is added per call and never appears in errors or logs. The pool trusts the
 * provider's `caFile` besides the default CAs; no other connection does.
 */
export class CostClient {
  readonly #pool: Pool;
  readonly #path: string;

  constructor(
    readonly provider: RemoteProvider,
    private readonly maxAnswerBytes = MAX_ANSWER_BYTES,
  ) {
    const url = new URL(provider.costUrl);
    this.#path = `${url.pathname}${url.search}`;
    this.#pool = new Pool(url.origin, {
      connections: provider.concurrency,
      headersTimeout: provider.timeoutMs,
      bodyTimeout: provider.timeoutMs,
      connect: providerConnectOptions(provider),
    });
  }

  /** One attempt. */
  async ask(ids: readonly string[]): Promise<CallOutcome> {
    let token: string;
    try {
      token = providerToken(this.provider);
    } catch (error) {
      return { outcome: 'no_token', detail: (error as Error).message };
    }
    const abort = AbortSignal.timeout(this.provider.timeoutMs);
    try {
      const response = await this.#pool.request({
        method: 'POST',
        path: this.#path,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ requestIds: ids }),
        signal: abort,
      });
      const { statusCode, headers, body } = response;
      if (statusCode !== 200) {
        await body.dump();
        return statusOutcome(statusCode, headers['retry-after']);
      }
      const contentType = String(headers['content-type'] ?? '');
      if (!/^application\/json\b/i.test(contentType)) {
        await body.dump();
        return { outcome: 'wrong_content_type', detail: `content-type ${contentType || '(none)'}` };
      }
      const text = await readCapped(body, this.maxAnswerBytes);
      if (text === undefined)
        return {
          outcome: 'oversized_body',
          detail: `answer larger than ${this.maxAnswerBytes} bytes`,
        };
      try {
        return { outcome: 'ok', body: JSON.parse(text) as unknown };
      } catch (error) {
        return { outcome: 'malformed_json', detail: (error as Error).message };
      }
    } catch (error) {
      if (
        abort.aborted ||
        error instanceof errors.HeadersTimeoutError ||
        error instanceof errors.BodyTimeoutError
      ) {
        return { outcome: 'timeout', detail: `no answer within ${this.provider.timeoutMs} ms` };
      }
      return { outcome: 'network_error', detail: (error as Error).message };
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * Asks, retrying 429/5xx/time-outs/network errors with the policy's backoff (a provider's
 * Retry-After instead, honoured up to `maxDelayMs`); returns every attempt's outcome.
 */
export async function askWithRetries(
  client: Pick<CostClient, 'ask'>,
  ids: readonly string[],
  policy: RetryPolicy,
): Promise<CallOutcome[]> {
  const attempts: CallOutcome[] = [];
  for (let attempt = 1; ; attempt++) {
    const result = await client.ask(ids);
    attempts.push(result);
    if (!RETRYABLE.has(result.outcome) || attempt >= policy.maxAttempts) return attempts;
    const retryAfter = result.outcome === 'rate_limited' ? result.retryAfterMs : undefined;
    await sleep(
      retryAfter === undefined
        ? backoffDelayMs(attempt, policy)
        : Math.min(policy.maxDelayMs, retryAfter),
    );
  }
}

function statusOutcome(status: number, retryAfter: string | string[] | undefined): CallOutcome {
  if (status === 429)
    return {
      outcome: 'rate_limited',
      retryAfterMs: parseRetryAfter(retryAfter),
      detail: 'HTTP 429',
    };
  if (status === 401 || status === 403)
    return { outcome: 'unauthorized', detail: `HTTP ${status}` };
  if (status >= 500) return { outcome: 'server_error', detail: `HTTP ${status}` };
  return { outcome: 'client_error', detail: `HTTP ${status}` };
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
