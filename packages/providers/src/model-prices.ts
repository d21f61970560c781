import { Agent, request, errors, type Dispatcher } from 'undici';
import { z } from 'zod';
import { parseDecimal, type TokenPricing } from '@nanobill/money';
import type { ProviderRegistry, RemoteProvider } from './registry.js';
import { providerToken } from './token.js';
import { readCapped } from './read-capped.js';
import { providerConnectOptions } from './connect.js';

/** A models list is small; this is far above any real one and bounds what a bad server costs us. */
export const MAX_MODELS_BODY_BYTES = 8 * 1024 * 1024;

/**
 * A price as `/v1/models` publishes it, in USD per million tokens. The JSON value is kept as it
 * came (number or string) so that `tokenCostNano` parses the exact decimal text: no float
 * arithmetic ever touches it.
 */
const Price = z
  .union([
    z.number().finite().nonnegative(),
    z.string().regex(/^\d+(\.\d+)?([eE][-+]?\d+)?$/, 'a non-negative decimal'),
  ])
  .refine((price) => {
    // parseDecimal also bounds the exponent, so a price accepted here never throws later.
    try {
      return parseDecimal(price).units >= 0n;
    } catch {
      return false;
    }
  }, 'a price tokenCostNano can use');

// Not strict: providers add fields (cache prices, per-request fees) that we do not use.
const PricedModel = z.object({
  id: z.string().min(1),
  pricing: z.object({ input: Price, output: Price }),
});

const ModelsList = z.object({
  object: z.literal('list').optional(),
  data: z.array(z.unknown()),
});

/** The priced models of one list, by model id, and how many entries had no usable price. */
export type ModelPrices = Map<string, TokenPricing> & { readonly skipped: number };

/**
 * Reads a `/v1/models` body. One bad entry (no id, no pricing, a negative or non-numeric price)
 * is skipped and counted: a provider publishing one odd model must not cost us its whole list.
 * A body that is not a list at all throws.
 */
export function parseModelPrices(body: unknown, provider = 'provider'): ModelPrices {
  const list = ModelsList.safeParse(body);
  if (!list.success) {
    throw new Error(`models list of ${provider}: not an OpenAI-style list ({"data": [...]})`);
  }
  const prices = new Map<string, TokenPricing>();
  let skipped = 0;
  for (const entry of list.data.data) {
    const model = PricedModel.safeParse(entry);
    // A repeated id is ambiguous; the first one wins so a later duplicate cannot override it.
    if (!model.success || prices.has(model.data.id)) {
      skipped++;
      continue;
    }
    const { input, output } = model.data.pricing;
    prices.set(model.data.id, { input, output });
  }
  return Object.assign(prices, { skipped });
}

export interface FetchModelPricesOptions {
  /** Bearer token; none → the request goes without authorization. */
  token?: string;
  /** Whole-call deadline (headers and body). Default: the provider's `timeoutMs`. */
  timeoutMs?: number;
  /**
   * Replaces the provider's own dispatcher (tests): the global one, or, for a provider with a
   * `caFile`, an agent of its own that trusts it.
   */
  dispatcher?: Dispatcher;
  maxBodyBytes?: number;
}

/**
 * Fetches a provider's `modelsUrl` and reads its prices. Redirects are not followed (undici's
 * `request` does not), so the token only ever goes to the configured origin. Errors name the
 * provider and the problem, never the token.
 */
export class ModelPricesError extends Error {
  constructor(
    readonly provider: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelPricesError';
  }
}

export async function fetchModelPrices(
  provider: RemoteProvider,
  options: FetchModelPricesOptions = {},
): Promise<ModelPrices> {
  if (!provider.modelsUrl) {
    throw new ModelPricesError(provider.name, `${provider.name} has no modelsUrl`);
  }
  const where = `models list of ${provider.name} (${safeUrl(provider.modelsUrl)})`;
  const timeoutMs = options.timeoutMs ?? provider.timeoutMs;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_MODELS_BODY_BYTES;
  const { token } = options;
  const fail = (problem: string) =>
    new ModelPricesError(provider.name, redact(`${where}: ${problem}`, token));
  const signal = AbortSignal.timeout(timeoutMs);
  // A provider's caFile is trusted by an agent of its own, made for this fetch and closed after
  // it: a price list is fetched every few minutes, so one handshake each time costs nothing.
  const own =
    options.dispatcher === undefined && provider.ca !== undefined
      ? new Agent({ connect: providerConnectOptions(provider) })
      : undefined;
  const dispatcher = options.dispatcher ?? own;
  let text: string | undefined;
  try {
    const response = await request(provider.modelsUrl, {
      method: 'GET',
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const { statusCode, headers, body } = response;
    if (statusCode !== 200) {
      await body.dump();
      // The answer's body is left out: a server may echo the request, token included.
      const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
      throw fail(`HTTP ${statusCode}${redirect}`);
    }
    const length = Number(headers['content-length']);
    if (Number.isFinite(length) && length > maxBodyBytes) {
      await body.dump();
      throw fail(`body larger than ${maxBodyBytes} bytes`);
    }
    text = await readCapped(body, maxBodyBytes);
    if (text === undefined) throw fail(`body larger than ${maxBodyBytes} bytes`);
  } catch (error) {
    if (error instanceof ModelPricesError) throw error;
    if (
      signal.aborted ||
      error instanceof errors.HeadersTimeoutError ||
      error instanceof errors.BodyTimeoutError
    ) {
      throw fail(`no answer within ${timeoutMs} ms`);
    }
    throw fail((error as Error).message || String(error));
  } finally {
    await own?.destroy();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fail('body is not JSON');
  }
  try {
    return parseModelPrices(json, `${provider.name} (${safeUrl(provider.modelsUrl)})`);
  } catch (error) {
    throw new ModelPricesError(provider.name, (error as Error).message);
  }
}

export type PriceSource = 'models_api' | 'providers_file';

export interface PriceQuote {
  pricing: TokenPricing;
  source: PriceSource;
}

/** One provider's outcome of a refresh. */
export interface ProviderPricesReport {
  /** Priced models held after this refresh (the previous list's count when the fetch failed). */
  models: number;
  /** Entries of the fetched list without a usable price; 0 when the fetch failed. */
  skipped: number;
  /** Why this fetch failed; the previous list, if any, is kept. */
  error?: string;
  /** Date.now() of the fetch that produced the list held, if any succeeded yet. */
  fetchedAt?: number;
}

/** Per provider name, for every remote provider with a `modelsUrl`. */
export type RefreshReport = Record<string, ProviderPricesReport>;

export interface ModelPriceBookOptions {
  /** Replaces the HTTP fetch (tests). Gets the same options fetchModelPrices would. */
  fetch?: (provider: RemoteProvider, options: FetchModelPricesOptions) => Promise<ModelPrices>;
  /** Where providerToken reads tokens from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  maxBodyBytes?: number;
  now?: () => number;
}

interface HeldList {
  prices: ModelPrices;
  fetchedAt: number;
}

/**
 * The providers' published per-token prices (docs/contract.md §6), for spend estimates: the last
 * good `/v1/models` list of each provider, with the providers file's `pricing` as the fallback. The
 * caller decides when to `refresh` and what to log from its report.
 */
export class ModelPriceBook {
  readonly #registry: ProviderRegistry;
  readonly #options: ModelPriceBookOptions;
  readonly #lists = new Map<string, HeldList>();
  #inFlight: Promise<RefreshReport> | undefined;

  constructor(registry: ProviderRegistry, options: ModelPriceBookOptions = {}) {
    this.#registry = registry;
    this.#options = options;
  }

  /**
   * Fetches every provider's list concurrently. Never throws for a provider's failure. A call
   * made while one runs shares it, so a slow old answer cannot overwrite a newer list.
   */
  refresh(): Promise<RefreshReport> {
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #refresh(): Promise<RefreshReport> {
    const providers = [...this.#registry.remote.values()].filter((p) => p.modelsUrl);
    const outcomes = await Promise.all(providers.map((p) => this.#refreshOne(p)));
    return Object.fromEntries(providers.map((p, i) => [p.name, outcomes[i]!]));
  }

  async #refreshOne(provider: RemoteProvider): Promise<ProviderPricesReport> {
    const { fetch = fetchModelPrices, env, now = Date.now } = this.#options;
    const { timeoutMs, dispatcher, maxBodyBytes } = this.#options;
    try {
      const token = providerToken(provider, env);
      const prices = await fetch(provider, { token, timeoutMs, dispatcher, maxBodyBytes });
      const fetchedAt = now();
      this.#lists.set(provider.name, { prices, fetchedAt });
      return { models: prices.size, skipped: prices.skipped, fetchedAt };
    } catch (error) {
      const held = this.#lists.get(provider.name);
      return {
        models: held?.prices.size ?? 0,
        skipped: 0,
        error: (error as Error).message,
        ...(held ? { fetchedAt: held.fetchedAt } : {}),
      };
    }
  }

  /**
   * The provider's price for a model: its published list (the provider's own model id first,
   * as that is what the list names), else the providers file's `pricing`, else undefined.
   */
  priceFor(provider: string, model: string, providerModelId?: string): PriceQuote | undefined {
    const list = this.#lists.get(provider)?.prices;
    const published =
      (providerModelId !== undefined ? list?.get(providerModelId) : undefined) ?? list?.get(model);
    if (published) return { pricing: published, source: 'models_api' };
    const configured = this.#registry.remote.get(provider)?.pricing;
    if (configured) return { pricing: configured, source: 'providers_file' };
    return undefined;
  }
}

/** The URL without credentials or query, which could carry secrets. */
function safeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

// Defence in depth: an underlying error could quote a header someday.
function redact(message: string, token: string | undefined): string {
  return token ? message.split(token).join('[redacted]') : message;
}
