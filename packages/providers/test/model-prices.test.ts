import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenCostNano } from '@nanobill/money';
import { startProviderSimulator, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  ModelPriceBook,
  fetchModelPrices,
  parseModelPrices,
  parseProviders,
  type ModelPrices,
  type ProviderRegistry,
  type RemoteProvider,
} from '../src/index.js';

const GROQ_TOKEN = 'sk-groq-5ecret-t0ken-do-not-leak';
const TOGETHER_TOKEN = 'sk-together-5ecret-t0ken';

let sim: ProviderSimulator;

beforeAll(async () => {
  sim = await startProviderSimulator({
    providers: {
      groq: {
        token: GROQ_TOKEN,
        models: [
          { id: 'llama-3.3-70b-versatile', pricing: { input: 0.59, output: 0.79 } },
          { id: 'meta-llama/Llama-3.3-70B-Instruct', pricing: { input: 0.6, output: 0.8 } },
          { id: 'openai/gpt-oss-120b', pricing: { input: 0.2, output: 2 } },
          // The simulator serves what it is given: these reach the wire as a bad provider would send them.
          {
            id: 'empty-pricing',
            pricing: { input: undefined as never, output: undefined as never },
          },
          { id: 'negative', pricing: { input: -0.1, output: 1 } },
          { id: 'not-a-number', pricing: { input: 'cheap' as never, output: 1 } },
          { id: 'infinite', pricing: { input: Infinity, output: 1 } },
        ],
      },
      together: {
        token: TOGETHER_TOKEN,
        models: [{ id: 'openai/gpt-oss-20b', pricing: { input: 0.05, output: 0.2 } }],
      },
      cerebras: { token: 'sim-token-cerebras' },
    },
  });
});
afterAll(() => sim.close());

/** A registry pointing at the simulator; groq and cerebras also have providers-file pricing. */
function registry(): ProviderRegistry {
  const at = (name: string) => ({
    costUrl: sim.costUrl(name),
    modelsUrl: sim.modelsUrl(name),
    tokenEnv: `${name.toUpperCase()}_TOKEN`,
  });
  return parseProviders({
    groq: { ...at('groq'), pricing: { input: 0.05, output: '0.08' } },
    together: at('together'),
    cerebras: { ...at('cerebras'), pricing: { input: 0.25, output: 0.69 } },
    // No modelsUrl: priced from the file only, never fetched.
    cohere: {
      costUrl: sim.costUrl('cohere'),
      tokenEnv: 'COHERE_TOKEN',
      pricing: { input: 2.5, output: 10 },
    },
    'hf-inference': { hardware: { 'nvidia-a10g': '0.00012' } },
  });
}

const goodEnv = () => ({
  GROQ_TOKEN,
  TOGETHER_TOKEN,
  CEREBRAS_TOKEN: 'sim-token-cerebras',
  COHERE_TOKEN: 'unused',
});

/** A server answering every request with `answer`; for bodies the simulator never sends. */
async function rawServer(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (body: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.setHeader('content-type', 'application/json');
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

function provider(modelsUrl: string, extra: Record<string, unknown> = {}): RemoteProvider {
  return parseProviders({
    acme: { costUrl: 'http://127.0.0.1:1/cost', tokenEnv: 'ACME_TOKEN', modelsUrl, ...extra },
  }).remote.get('acme')!;
}

describe('fetchModelPrices against the provider simulator', () => {
  it('reads the published prices exactly, keeping the JSON numbers as they came', async () => {
    const prices = await fetchModelPrices(registry().remote.get('groq')!, { token: GROQ_TOKEN });
    expect(prices.get('openai/gpt-oss-120b')).toEqual({ input: 0.2, output: 2 });
    expect(prices.get('llama-3.3-70b-versatile')).toEqual({ input: 0.59, output: 0.79 });
    expect(prices.size).toBe(3);
    expect(prices.skipped).toBe(4);
    // (1,000 × 0.2 + 500 × 2) USD per 10^6 tokens = 1,200 / 10^6 USD = 0.0012 USD.
    expect(tokenCostNano(1000, 500, prices.get('openai/gpt-oss-120b')!)).toBe(1_200_000n);
    // (1,234 × 0.59 + 567 × 0.79) / 10^6 USD = (728.06 + 447.93) / 10^6 = 0.00117599 USD.
    expect(tokenCostNano(1234, 567, prices.get('llama-3.3-70b-versatile')!)).toBe(1_175_990n);
  });

  it('fails on a wrong token with the provider and the status, never the token', async () => {
    const wrong = 'sk-wrong-t0ken-that-must-not-appear';
    const call = fetchModelPrices(registry().remote.get('groq')!, { token: wrong });
    await expect(call).rejects.toThrow(
      /models list of groq \(http:\/\/127\.0\.0\.1:\d+\/groq\/v1\/models\): HTTP 401/,
    );
    const message = await call.catch((e: Error) => e.message);
    expect(message).not.toContain(wrong);
  });

  it('fails on a closed port, naming the provider', async () => {
    const closed = await rawServer(json({}));
    await closed.close();
    await expect(
      fetchModelPrices(provider(`${closed.url}/v1/models`), { token: 'x' }),
    ).rejects.toThrow(/models list of acme .*: .*ECONNREFUSED/);
  });
});

describe('fetchModelPrices against misbehaving servers', () => {
  it.each([
    ['a JSON array', []],
    ['data that is not an array', { object: 'list', data: {} }],
    ['another object', { object: 'model', id: 'x' }],
    ['not JSON', '{ nope'],
  ])('rejects a body that is not a list: %s', async (_name, body) => {
    const server = await rawServer(json(body));
    try {
      await expect(fetchModelPrices(provider(`${server.url}/v1/models`))).rejects.toThrow(
        /models list of acme .*: (not an OpenAI-style list|body is not JSON)/,
      );
    } finally {
      await server.close();
    }
  });

  it('does not follow redirects (the token stays with the configured origin)', async () => {
    const elsewhere = await rawServer(json({ object: 'list', data: [] }));
    const server = await rawServer((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', `${elsewhere.url}/v1/models`);
      res.end();
    });
    try {
      await expect(
        fetchModelPrices(provider(`${server.url}/v1/models`), { token: 'secret' }),
      ).rejects.toThrow('HTTP 302 (redirects are not followed)');
      expect(elsewhere.hits()).toBe(0);
    } finally {
      await Promise.all([server.close(), elsewhere.close()]);
    }
  });

  it('bounds the body, announced or not', async () => {
    const big = JSON.stringify({ object: 'list', data: [{ id: 'x'.repeat(4096) }] });
    const announced = await rawServer(json(big));
    const chunked = await rawServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.write(big.slice(0, 2000));
      res.end(big.slice(2000));
    });
    try {
      for (const server of [announced, chunked]) {
        await expect(
          fetchModelPrices(provider(`${server.url}/v1/models`), { maxBodyBytes: 1024 }),
        ).rejects.toThrow('body larger than 1024 bytes');
      }
    } finally {
      await Promise.all([announced.close(), chunked.close()]);
    }
  });

  it('gives up after the timeout', async () => {
    const silent = await rawServer(() => undefined);
    try {
      await expect(
        fetchModelPrices(provider(`${silent.url}/v1/models`), { timeoutMs: 150 }),
      ).rejects.toThrow('no answer within 150 ms');
    } finally {
      await silent.close();
    }
  });

  it('sends the bearer token, and none when not given', async () => {
    const seen: (string | undefined)[] = [];
    const server = await rawServer((req, res) => {
      seen.push(req.headers.authorization);
      json({ object: 'list', data: [] })(req, res);
    });
    try {
      await fetchModelPrices(provider(`${server.url}/v1/models`), { token: 'abc' });
      await fetchModelPrices(provider(`${server.url}/v1/models`));
      expect(seen).toEqual(['Bearer abc', undefined]);
    } finally {
      await server.close();
    }
  });
});

describe('parseModelPrices', () => {
  it('skips and counts each bad entry, keeps the rest', () => {
    const prices = parseModelPrices({
      object: 'list',
      data: [
        { id: 'ok', object: 'model', pricing: { input: 0.2, output: 2, cache_read: 0.1 } },
        { id: 'strings', pricing: { input: '0.000123', output: '1e-3' } },
        { id: 'free', pricing: { input: 0, output: 0 } },
        { id: 'no-pricing' },
        { id: 'half', pricing: { input: 1 } },
        { id: 'negative-string', pricing: { input: '-1', output: '1' } },
        { id: 'null', pricing: { input: null, output: 1 } },
        { id: 'huge-exponent', pricing: { input: '1e99999', output: 1 } },
        { id: 'ok', pricing: { input: 9, output: 9 } },
        { pricing: { input: 1, output: 1 } },
        'not an object',
        null,
      ],
    });
    expect(Object.fromEntries(prices)).toEqual({
      ok: { input: 0.2, output: 2 },
      strings: { input: '0.000123', output: '1e-3' },
      free: { input: 0, output: 0 },
    });
    expect(prices.skipped).toBe(9);
  });

  it('accepts a list without the `object` field, an empty list', () => {
    expect(parseModelPrices({ data: [] }).size).toBe(0);
  });
});

describe('ModelPriceBook', () => {
  it('prefers the provider model id, then the model, then the providers file', async () => {
    const book = new ModelPriceBook(registry(), { env: goodEnv() });
    const report = await book.refresh();
    expect(report.groq).toMatchObject({ models: 3, skipped: 4 });
    expect(report.groq!.error).toBeUndefined();
    expect(report.together).toMatchObject({ models: 1, skipped: 0 });
    expect(report.cerebras).toMatchObject({ models: 0, skipped: 0 });
    // cohere has no modelsUrl, hf-inference no cost endpoint: neither is fetched.
    expect(Object.keys(report).sort()).toEqual(['cerebras', 'groq', 'together']);

    const llama = 'meta-llama/Llama-3.3-70B-Instruct';
    expect(book.priceFor('groq', llama, 'llama-3.3-70b-versatile')).toEqual({
      pricing: { input: 0.59, output: 0.79 },
      source: 'models_api',
    });
    expect(book.priceFor('groq', llama)).toEqual({
      pricing: { input: 0.6, output: 0.8 },
      source: 'models_api',
    });
    expect(book.priceFor('groq', llama, 'not-listed')?.pricing).toEqual({
      input: 0.6,
      output: 0.8,
    });
    expect(book.priceFor('together', 'openai/gpt-oss-20b')).toEqual({
      pricing: { input: 0.05, output: 0.2 },
      source: 'models_api',
    });
    // A skipped entry is as good as absent: the file's price applies.
    expect(book.priceFor('groq', 'negative')).toEqual({
      pricing: { input: 0.05, output: '0.08' },
      source: 'providers_file',
    });
    expect(book.priceFor('cerebras', 'anything')).toEqual({
      pricing: { input: 0.25, output: 0.69 },
      source: 'providers_file',
    });
    expect(book.priceFor('cohere', 'command-a')?.source).toBe('providers_file');
  });

  it('answers undefined when neither the list nor the file has a price', async () => {
    const book = new ModelPriceBook(registry(), { env: goodEnv() });
    await book.refresh();
    expect(book.priceFor('together', 'unknown-model')).toBeUndefined();
    expect(book.priceFor('no-such-provider', 'openai/gpt-oss-20b')).toBeUndefined();
    expect(book.priceFor('hf-inference', 'meta-llama/Llama-3.2-1B-Instruct')).toBeUndefined();
  });

  it('uses the providers file before the first refresh', () => {
    const book = new ModelPriceBook(registry(), { env: goodEnv() });
    expect(book.priceFor('groq', 'openai/gpt-oss-120b')?.source).toBe('providers_file');
    expect(book.priceFor('together', 'openai/gpt-oss-20b')).toBeUndefined();
  });

  it('keeps the last good list of a provider whose fetch fails, and reports why', async () => {
    const env: NodeJS.ProcessEnv = goodEnv();
    let clock = 1_000;
    const book = new ModelPriceBook(registry(), { env, now: () => clock });
    await book.refresh();
    clock = 2_000;
    env.GROQ_TOKEN = 'sk-rotated-wrong-t0ken';
    delete env.TOGETHER_TOKEN;
    const report = await book.refresh();

    expect(report.groq).toMatchObject({ models: 3, skipped: 0, fetchedAt: 1_000 });
    expect(report.groq!.error).toMatch(/models list of groq .*HTTP 401/);
    expect(report.together).toMatchObject({ models: 1, fetchedAt: 1_000 });
    expect(report.together!.error).toBe('the token of together is missing: set TOGETHER_TOKEN');
    expect(report.cerebras).toMatchObject({ models: 0, fetchedAt: 2_000 });
    expect(report.cerebras!.error).toBeUndefined();
    expect(JSON.stringify(report)).not.toContain('sk-');

    expect(book.priceFor('groq', 'x', 'openai/gpt-oss-120b')).toEqual({
      pricing: { input: 0.2, output: 2 },
      source: 'models_api',
    });
    expect(book.priceFor('together', 'openai/gpt-oss-20b')?.source).toBe('models_api');
  });

  it('reports a provider that never answered, with no list and no fetchedAt', async () => {
    const closed = await rawServer(json({}));
    await closed.close();
    const book = new ModelPriceBook(
      parseProviders({
        acme: {
          costUrl: `${closed.url}/cost`,
          modelsUrl: `${closed.url}/v1/models`,
          tokenEnv: 'ACME_TOKEN',
        },
      }),
      { env: { ACME_TOKEN: 'sk-acme-secret' } },
    );
    const report = await book.refresh();
    expect(report.acme).toMatchObject({ models: 0, skipped: 0 });
    expect(report.acme!.fetchedAt).toBeUndefined();
    expect(report.acme!.error).toMatch(/^models list of acme .*ECONNREFUSED/);
    expect(report.acme!.error).not.toContain('sk-acme-secret');
    expect(book.priceFor('acme', 'm')).toBeUndefined();
  });

  it('fetches concurrently, and a refresh asked during one shares it', async () => {
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fetch = async (p: RemoteProvider, options: { token?: string }) => {
      started.push(`${p.name}:${options.token}`);
      await gate;
      return Object.assign(new Map([['m', { input: '1', output: '2' }]]), {
        skipped: 0,
      }) as ModelPrices;
    };
    const book = new ModelPriceBook(registry(), { env: goodEnv(), fetch });
    const first = book.refresh();
    const second = book.refresh();
    await new Promise((resolve) => setImmediate(resolve));
    // All three fetches are under way before any has answered.
    expect(started.sort()).toEqual([
      'cerebras:sim-token-cerebras',
      `groq:${GROQ_TOKEN}`,
      `together:${TOGETHER_TOKEN}`,
    ]);
    release();
    expect(await second).toBe(await first);
    await book.refresh();
    expect(started).toHaveLength(6);
    expect(book.priceFor('cerebras', 'm')).toEqual({
      pricing: { input: '1', output: '2' },
      source: 'models_api',
    });
  });
});
