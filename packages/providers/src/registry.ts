import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { HF_INFERENCE } from '@nanobill/contract';
import { INT64_MAX, hfInferenceCostNano, usdToNano } from '@nanobill/money';
import { readCaFile } from '@nanobill/tls';

/** A USD amount as a config file writes it: a JSON number or a decimal string, never negative. */
const Usd = z.union([
  z.number().nonnegative().finite(),
  z.string().regex(/^\d+(\.\d+)?([eE][-+]?\d+)?$/, 'a non-negative decimal USD amount'),
]);

/**
 * The default ceiling of one request's cost at a provider: $100. The dearest single inference
 * requests (long generations on the largest models, video) cost a few dollars at most, so $100
 * is far above anything legitimate, yet it stops an answer that is a bug or an attack (the cost
 * API allows up to $9M per request) before it is booked. A cost above the ceiling is not lost:
 * the request is unpriced with the reason, and alerted, for finance to look at.
 */
export const DEFAULT_MAX_COST_USD = '100';
/**
 * hf-inference: the most compute one request may be billed for, in hardware-seconds (one hour).
 * A request holds a machine for seconds to minutes (the router times out long before an hour);
 * more is a broken or hostile `computeTimeMs`, e.g. 2^53 ms.
 */
export const DEFAULT_MAX_COMPUTE_SECONDS = 3_600;
/** The largest `maxComputeSeconds` the file may set (30 days): beyond, it is a typo. */
const MAX_COMPUTE_SECONDS_LIMIT = 30 * 24 * 60 * 60;

/** Hosts a cleartext (http) URL may name: this machine only. */
export function isLoopbackHost(hostname: string): boolean {
  // WHATWG URL parsing normalises IPv4 spellings (127.1, 2130706433) to dotted quads and keeps
  // IPv6 in brackets.
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * An endpoint URL: https, or http to a loopback host (the local simulator). Tokens and costs
 * must not cross a network in clear text.
 */
const EndpointUrl = z.url({ protocol: /^https?$/ }).refine(
  (url) => {
    if (!URL.canParse(url)) return true; // reported by the URL check itself
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || isLoopbackHost(parsed.hostname);
  },
  { error: 'must be https (http is allowed to a loopback host only: localhost, 127.0.0.0/8, ::1)' },
);

/** A positive USD ceiling that is a whole number of nano-USD and fits an Int64 column. */
const CeilingUsd = Usd.superRefine((usd, ctx) => {
  let nano: bigint;
  try {
    nano = usdToNano(usd);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a whole number of nano-USD (at most 9 decimals)',
    });
    return;
  }
  if (nano <= 0n) ctx.addIssue({ code: 'custom', message: 'must be above 0' });
  if (nano > INT64_MAX) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be at most $9223372036.854775807 (Int64 nano-USD)',
    });
  }
});

const Pricing = z.strictObject({
  /** USD per million input tokens, as `/v1/models` `pricing` gives it (docs/contract.md §10). */
  input: Usd,
  output: Usd,
});

const RemoteProvider = z.strictObject({
  costUrl: EndpointUrl,
  /** Name of the environment variable that holds the bearer token (never the token itself). */
  tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
  /** Alternatively a file holding the token (e.g. a mounted secret); wins over tokenEnv. */
  tokenFile: z.string().min(1).optional(),
  requestIdHeader: z.string().min(1).default('Inference-Id'),
  modelsUrl: EndpointUrl.optional(),
  pricing: Pricing.optional(),
  timeoutMs: z.int().min(100).max(120_000).default(10_000),
  concurrency: z.int().min(1).max(64).default(2),
  retries: z.int().min(0).max(10).default(2),
  /** The most one request may cost (USD); a cost above it is not booked. */
  maxCostUsd: CeilingUsd.default(DEFAULT_MAX_COST_USD),
  /**
   * PEM certificates this provider's connections trust besides the default ones (a private CA,
   * or a self-signed server certificate such as the compose simulator's), read at load. Only
   * this provider's connections trust them, never the rest of the process.
   */
  caFile: z.string().min(1).optional(),
});

const LocalProvider = z
  .strictObject({
    /** USD per second of compute, per hardware name (docs/contract.md §4). */
    hardware: z
      .record(z.string().min(1), Usd)
      .refine((h) => Object.keys(h).length > 0, 'at least one hardware price'),
    /** The most compute one request may be billed for; more is not booked. */
    maxComputeSeconds: z
      .int()
      .min(1)
      .max(MAX_COMPUTE_SECONDS_LIMIT)
      .default(DEFAULT_MAX_COMPUTE_SECONDS),
  })
  .superRefine((local, ctx) => {
    // The ceiling of each hardware (its price × the most compute) must fit an Int64 column.
    for (const [hardware, price] of Object.entries(local.hardware)) {
      let ceiling: bigint;
      try {
        ceiling = hfInferenceCostNano(local.maxComputeSeconds * 1000, price);
      } catch {
        continue; // the price itself is reported by its own rule
      }
      if (ceiling > INT64_MAX) {
        ctx.addIssue({
          code: 'custom',
          path: ['maxComputeSeconds'],
          message: `× the price of ${hardware} exceeds $9223372036.854775807 (Int64 nano-USD)`,
        });
      }
    }
  });

const ProvidersFile = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a provider name'),
  z.unknown(),
);

export type RemoteProvider = z.infer<typeof RemoteProvider> & {
  name: string;
  /** `maxCostUsd` in nano-USD. */
  maxCostNanoUsd: bigint;
  /** The certificates of `caFile` (PEM), read at load; see `providerConnectOptions`. */
  ca?: readonly string[];
};
export type UsdAmount = z.infer<typeof Usd>;

export interface ProviderRegistry {
  /** Every configured provider: the accepted values of an event's `provider`. */
  names: string[];
  /** Providers priced through their cost endpoint. */
  remote: Map<string, RemoteProvider>;
  /** hf-inference's price per second per hardware name, when configured. */
  hardware: Map<string, UsdAmount>;
  /** hf-inference: the most compute one request may be billed for, in seconds. */
  maxComputeSeconds: number;
}

export const DEFAULT_PROVIDERS_FILE = fileURLToPath(
  new URL('../../../infra/providers/local.json', import.meta.url),
);

export interface LoadProvidersOptions {
  /**
   * Reads the files the providers file names at load (`caFile`). Default: the file system;
   * tests map container paths (`/run/secrets/…`) to the checkout's files.
   */
  readFile?: (path: string) => Buffer;
}

/**
 * Reads and validates the providers file, and the CA files it names; a bad one fails with a
 * message naming the field.
 */
export function loadProviders(
  path = DEFAULT_PROVIDERS_FILE,
  options: LoadProvidersOptions = {},
): ProviderRegistry {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`providers file ${path}: ${(error as Error).message}`);
  }
  return parseProviders(json, path, options);
}

export function parseProviders(
  json: unknown,
  source = 'providers file',
  options: LoadProvidersOptions = {},
): ProviderRegistry {
  const top = ProvidersFile.safeParse(json);
  if (!top.success) throw new Error(`${source}: ${describe(top.error)}`);
  const registry: ProviderRegistry = {
    names: [],
    remote: new Map(),
    hardware: new Map(),
    maxComputeSeconds: DEFAULT_MAX_COMPUTE_SECONDS,
  };
  for (const [name, entry] of Object.entries(top.data)) {
    registry.names.push(name);
    if (name === HF_INFERENCE) {
      const local = LocalProvider.safeParse(entry);
      if (!local.success) throw new Error(`${source}: ${describe(local.error, name)}`);
      for (const [hardware, price] of Object.entries(local.data.hardware))
        registry.hardware.set(hardware, price);
      registry.maxComputeSeconds = local.data.maxComputeSeconds;
    } else {
      const remote = RemoteProvider.safeParse(entry);
      if (!remote.success) throw new Error(`${source}: ${describe(remote.error, name)}`);
      const { caFile } = remote.data;
      let ca: string[] | undefined;
      try {
        ca = caFile === undefined ? undefined : readCaFile(caFile, options.readFile);
      } catch (error) {
        throw new Error(`${source}: ${name}.caFile: ${(error as Error).message}`);
      }
      registry.remote.set(name, {
        ...remote.data,
        name,
        maxCostNanoUsd: usdToNano(remote.data.maxCostUsd),
        ...(ca === undefined ? {} : { ca }),
      });
    }
  }
  if (registry.names.length === 0) throw new Error(`${source}: no provider configured`);
  return registry;
}

function describe(error: z.ZodError, prefix?: string): string {
  return error.issues
    .map(
      (i) =>
        `${[prefix, ...i.path].filter((p) => p !== undefined).join('.') || '(file)'}: ${i.message}`,
    )
    .join('; ');
}
