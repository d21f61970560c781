import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { HF_INFERENCE } from '@nanobill/contract';

/** A USD amount as a config file writes it: a JSON number or a decimal string, never negative. */
const Usd = z.union([
  z.number().nonnegative().finite(),
  z.string().regex(/^\d+(\.\d+)?([eE][-+]?\d+)?$/, 'a non-negative decimal USD amount'),
]);

const Pricing = z.strictObject({
  /** USD per million input tokens, as the seed's `/v1/models` `pricing` gives it. */
  input: Usd,
  output: Usd,
});

const RemoteProvider = z.strictObject({
  costUrl: z.url({ protocol: /^https?$/ }),
  /** Name of the environment variable that holds the bearer token (never the token itself). */
  tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
  /** Alternatively a file holding the token (e.g. a mounted secret); wins over tokenEnv. */
  tokenFile: z.string().min(1).optional(),
  requestIdHeader: z.string().min(1).default('Inference-Id'),
  modelsUrl: z.url({ protocol: /^https?$/ }).optional(),
  pricing: Pricing.optional(),
  timeoutMs: z.int().min(100).max(120_000).default(10_000),
  concurrency: z.int().min(1).max(64).default(2),
  retries: z.int().min(0).max(10).default(2),
});

const LocalProvider = z.strictObject({
  /** USD per second of compute, per hardware name (PRODUCT.md §4). */
  hardware: z
    .record(z.string().min(1), Usd)
    .refine((h) => Object.keys(h).length > 0, 'at least one hardware price'),
});

const ProvidersFile = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a provider name'),
  z.unknown(),
);

export type RemoteProvider = z.infer<typeof RemoteProvider> & { name: string };
export type UsdAmount = z.infer<typeof Usd>;

export interface ProviderRegistry {
  /** Every configured provider: the accepted values of an event's `provider`. */
  names: string[];
  /** Providers priced through their cost endpoint. */
  remote: Map<string, RemoteProvider>;
  /** hf-inference's price per second per hardware name, when configured. */
  hardware: Map<string, UsdAmount>;
}

export const DEFAULT_PROVIDERS_FILE = fileURLToPath(
  new URL('../../../infra/providers/local.json', import.meta.url),
);

/** Reads and validates the providers file; a bad one fails with a message naming the field. */
export function loadProviders(path = DEFAULT_PROVIDERS_FILE): ProviderRegistry {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`providers file ${path}: ${(error as Error).message}`);
  }
  return parseProviders(json, path);
}

export function parseProviders(json: unknown, source = 'providers file'): ProviderRegistry {
  const top = ProvidersFile.safeParse(json);
  if (!top.success) throw new Error(`${source}: ${describe(top.error)}`);
  const registry: ProviderRegistry = { names: [], remote: new Map(), hardware: new Map() };
  for (const [name, entry] of Object.entries(top.data)) {
    registry.names.push(name);
    if (name === HF_INFERENCE) {
      const local = LocalProvider.safeParse(entry);
      if (!local.success) throw new Error(`${source}: ${describe(local.error, name)}`);
      for (const [hardware, price] of Object.entries(local.data.hardware))
        registry.hardware.set(hardware, price);
    } else {
      const remote = RemoteProvider.safeParse(entry);
      if (!remote.success) throw new Error(`${source}: ${describe(remote.error, name)}`);
      registry.remote.set(name, { ...remote.data, name });
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
