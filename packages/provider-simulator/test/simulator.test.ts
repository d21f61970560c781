import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { request } from 'undici';
import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';
import {
  BAD_COST_TEXT,
  MAX_COST_NANO_USD,
  MIN_COST_NANO_USD,
  defaultSimulatedProviders,
  inShare,
  startProviderSimulator,
  trueCostNanoUsd,
  type Fault,
  type ProviderSimulator,
} from '../src/index.js';
import { fnv1a64 } from '../src/cost.js';

const P = 'together';
let sim: ProviderSimulator;

interface Entry {
  requestId: string;
  costNanoUsd: unknown;
}

const idsOf = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i.toString(16).padStart(8, '0')}`);

async function post(
  ids: readonly string[],
  opts: { provider?: string; token?: string | null; body?: string; headersTimeout?: number } = {},
) {
  const provider = opts.provider ?? P;
  const token = opts.token === undefined ? `sim-token-${provider}` : opts.token;
  const res = await request(sim.costUrl(provider), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: opts.body ?? JSON.stringify({ requestIds: ids }),
    ...(opts.headersTimeout ? { headersTimeout: opts.headersTimeout } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

const entries = (text: string) => (JSON.parse(text) as { requests: Entry[] }).requests;
const trueCosts = (ids: readonly string[], provider = P) =>
  ids.map((requestId) => ({
    requestId,
    costNanoUsd: Number(trueCostNanoUsd(provider, requestId)),
  }));

beforeAll(async () => {
  sim = await startProviderSimulator({
    port: 0,
    providers: {
      ...defaultSimulatedProviders(),
      groq: {
        token: 'sim-token-groq',
        models: [
          { id: 'meta-llama/Llama-3.3-70B-Instruct', pricing: { input: 0.59, output: 0.79 } },
          {
            id: 'openai/gpt-oss-120b',
            pricing: { input: 0.15, output: 0.75 },
            context_length: 131_000,
          },
        ],
      },
    },
  });
});
afterAll(() => sim.close());
afterEach(() => {
  sim.clearFaults();
  sim.resetCalls();
});

describe('trueCostNanoUsd', () => {
  it('is deterministic, an integer bigint within [1,000, 50,000,000] nano-USD', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: 'grapheme' }), (provider, id) => {
        const cost = trueCostNanoUsd(provider, id);
        expect(typeof cost).toBe('bigint');
        expect(cost).toBe(trueCostNanoUsd(provider, id));
        expect(cost >= MIN_COST_NANO_USD && cost <= MAX_COST_NANO_USD).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('depends on the provider and spreads over the decades', () => {
    const ids = idsOf('spread', 5000);
    const costs = ids.map((id) => trueCostNanoUsd(P, id));
    expect(costs.filter((c, i) => c === trueCostNanoUsd('groq', ids[i]!)).length).toBeLessThan(5);
    for (const [lo, hi] of [
      [1_000n, 10_000n],
      [10_000_000n, 50_000_001n],
    ] as const) {
      const share = costs.filter((c) => c >= lo && c < hi).length / costs.length;
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.25);
    }
  });

  it('hashes with 64-bit FNV-1a (checked against a BigInt reference)', () => {
    const reference = (text: string) => {
      let h = 0xcbf29ce484222325n;
      for (const b of new TextEncoder().encode(text)) {
        h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
      }
      return h;
    };
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => fnv1a64(s) === reference(s)));
  });

  it('inShare is deterministic and monotone in share', () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ min: 0, max: 1, noNaN: true }), (id, share) => {
        const picked = inShare(P, id, 'drop-ids', share);
        expect(inShare(P, id, 'drop-ids', share)).toBe(picked);
        if (picked) expect(inShare(P, id, 'drop-ids', Math.min(1, share + 0.1))).toBe(true);
      }),
    );
    expect(inShare(P, 'x', 'drop-ids', 0)).toBe(false);
    expect(inShare(P, 'x', 'drop-ids', 1)).toBe(true);
  });
});

describe('cost route', () => {
  it('serves the 17 default providers with a cost endpoint (not hf-inference)', () => {
    const names = Object.keys(defaultSimulatedProviders());
    expect(names).toHaveLength(DEFAULT_PROVIDERS.length - 1);
    expect(names).not.toContain(HF_INFERENCE);
    expect(sim.costUrl('fal-ai')).toBe(`${sim.url}/fal-ai/cost`);
  });

  it('answers the true costs as JSON integers', async () => {
    const ids = idsOf('valid', 250);
    const res = await post(ids);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(entries(res.text)).toEqual(trueCosts(ids));
    const total = ids.reduce((sum, id) => sum + trueCostNanoUsd(P, id), 0n);
    expect(entries(res.text).reduce((s, e) => s + BigInt(e.costNanoUsd as number), 0n)).toBe(total);
    expect(sim.answeredIds(P)).toEqual(new Set(ids));
    expect(sim.answeredIds('groq').size).toBe(0);
    expect(entries((await post(ids.slice(0, 3), { provider: 'groq' })).text)).toEqual(
      trueCosts(ids.slice(0, 3), 'groq'),
    );
  });

  it('answers an empty list and each repeated id once', async () => {
    expect(entries((await post([])).text)).toEqual([]);
    expect(entries((await post(['r1', 'r1', 'r2'])).text)).toEqual(trueCosts(['r1', 'r2']));
  });

  it('401 on a wrong, missing or other provider’s token', async () => {
    for (const token of ['nope', null, 'sim-token-groq']) {
      const res = await post(['a'], { token });
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect(sim.answeredIds(P).has('a')).toBe(false);
  });

  it('404 on an unknown provider or route, 400 on a bad body', async () => {
    expect((await post(['a'], { provider: 'nobody' })).status).toBe(404);
    expect((await request(`${sim.url}/together/elsewhere`)).statusCode).toBe(404);
    for (const body of ['{', '[]', '{"ids":[]}', '{"requestIds":"a"}', '{"requestIds":[1]}']) {
      const res = await post([], { body });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('413 with a JSON error on 10,001 ids, 200 on 10,000; both recorded', async () => {
    const ids = idsOf('limit', 10_001);
    const over = await post(ids);
    expect(over.status).toBe(413);
    expect(JSON.parse(over.text)).toMatchObject({ error: { code: 'too_many_ids' } });
    const ok = await post(ids.slice(0, 10_000));
    expect(ok.status).toBe(200);
    expect(entries(ok.text)).toHaveLength(10_000);
    expect(sim.calls().map(({ ids, status }) => ({ ids, status }))).toEqual([
      { ids: 10_001, status: 413 },
      { ids: 10_000, status: 200 },
    ]);
  });

  it('records every call with provider, id count, status, time and faults', async () => {
    const before = Date.now();
    sim.setFaults('groq', [{ kind: 'status', status: 503, times: 1 }]);
    await post(idsOf('rec', 7));
    await post(idsOf('rec', 3), { provider: 'groq' });
    await post(['x'], { token: 'bad' });
    const calls = sim.calls();
    expect(
      calls.map(({ provider, ids, status, faults }) => ({ provider, ids, status, faults })),
    ).toEqual([
      { provider: P, ids: 7, status: 200, faults: [] },
      { provider: 'groq', ids: 3, status: 503, faults: ['status'] },
      { provider: P, ids: 0, status: 401, faults: [] },
    ]);
    for (const c of calls) expect(c.at).toBeGreaterThanOrEqual(before);
    sim.resetCalls();
    expect(sim.calls()).toEqual([]);
  });
});

describe('faults', () => {
  it.each([500, 502, 503, 400, 404])('status %i with a JSON body', async (status) => {
    sim.setFaults(P, [{ kind: 'status', status }]);
    for (let i = 0; i < 2; i++) {
      const res = await post(['s1']);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'injected' } });
    }
    expect(sim.answeredIds(P).has('s1')).toBe(false);
  });

  it('times: a fault applies to the next N calls, then disappears', async () => {
    sim.setFaults(P, [{ kind: 'status', status: 502, times: 2 }]);
    expect(sim.faults(P)).toEqual([{ kind: 'status', status: 502, times: 2 }]);
    expect((await post(['t'])).status).toBe(502);
    expect(sim.faults(P)).toEqual([{ kind: 'status', status: 502, times: 1 }]);
    expect((await post(['t'])).status).toBe(502);
    expect(sim.faults(P)).toEqual([]);
    expect((await post(['t'])).status).toBe(200);
  });

  it('terminal faults take turns in list order; only faults that take effect are used up', async () => {
    sim.setFaults(P, [
      { kind: 'status', status: 503, times: 1 },
      { kind: 'rate-limit', retryAfterSeconds: 7, times: 1 },
      { kind: 'duplicate-ids', share: 1, times: 1 },
    ]);
    expect((await post(['o'])).status).toBe(503);
    expect((await post(['o'])).status).toBe(429);
    expect(entries((await post(['o'])).text)).toHaveLength(2);
    expect(entries((await post(['o'])).text)).toHaveLength(1);
    expect(sim.calls().map((c) => c.faults)).toEqual([
      ['status'],
      ['rate-limit'],
      ['duplicate-ids'],
      [],
    ]);
  });

  it('rate-limit: 429 with Retry-After', async () => {
    sim.setFaults(P, [{ kind: 'rate-limit', retryAfterSeconds: 30 }]);
    const res = await post(['rl']);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('30');
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'rate_limited' } });
  });

  it('timeout: never answers, the client gives up', async () => {
    sim.setFaults(P, [{ kind: 'timeout', times: 1 }]);
    const started = Date.now();
    await expect(post(['to'], { headersTimeout: 300 })).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_TIMEOUT',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(sim.calls()[0]).toMatchObject({ status: 0, faults: ['timeout'] });
    expect(sim.answeredIds(P).has('to')).toBe(false);
    expect((await post(['to'])).status).toBe(200);
  });

  it('slow: answers correctly after the delay', async () => {
    sim.setFaults(P, [{ kind: 'slow', delayMs: 250 }]);
    const started = Date.now();
    const res = await post(['slow-1', 'slow-2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(entries(res.text)).toEqual(trueCosts(['slow-1', 'slow-2']));
    expect(sim.answeredIds(P).has('slow-1')).toBe(true);
  });

  it("drop-ids 'later': leaves the picked ids out once, then answers them", async () => {
    const ids = idsOf('drop-later', 400);
    const picked = ids.filter((id) => inShare(P, id, 'drop-ids', 0.25));
    expect(picked.length).toBeGreaterThan(60);
    sim.setFaults(P, [{ kind: 'drop-ids', share: 0.25, until: 'later' }]);
    const first = entries((await post(ids)).text).map((e) => e.requestId);
    expect(first).toEqual(ids.filter((id) => !picked.includes(id)));
    expect([...sim.answeredIds(P)].filter((id) => id.startsWith('drop-later'))).toHaveLength(
      ids.length - picked.length,
    );
    const second = await post(picked);
    expect(entries(second.text)).toEqual(trueCosts(picked));
    const answered = sim.answeredIds(P);
    for (const id of ids) expect(answered.has(id)).toBe(true);
  });

  it("drop-ids 'never': the picked ids are never answered", async () => {
    const ids = idsOf('drop-never', 200);
    const picked = new Set(ids.filter((id) => inShare(P, id, 'drop-ids', 0.5)));
    sim.setFaults(P, [{ kind: 'drop-ids', share: 0.5, until: 'never' }]);
    for (let i = 0; i < 3; i++) {
      const got = entries((await post(ids)).text).map((e) => e.requestId);
      expect(got).toEqual(ids.filter((id) => !picked.has(id)));
    }
    const answered = sim.answeredIds(P);
    for (const id of picked) expect(answered.has(id)).toBe(false);
  });

  it('share is deterministic and close to the asked fraction', async () => {
    const ids = idsOf('share', 10_000);
    sim.setFaults(P, [{ kind: 'duplicate-ids', share: 0.3 }]);
    const a = entries((await post(ids)).text);
    const b = entries((await post(ids)).text);
    expect(a).toEqual(b);
    const twice = a.length - ids.length;
    expect(twice).toBe(ids.filter((id) => inShare(P, id, 'duplicate-ids', 0.3)).length);
    expect(twice / ids.length).toBeGreaterThan(0.28);
    expect(twice / ids.length).toBeLessThan(0.32);
  });

  it('duplicate-ids: the picked ids appear twice with the same cost, and count as answered', async () => {
    const ids = idsOf('dup', 100);
    sim.setFaults(P, [{ kind: 'duplicate-ids', share: 0.2 }]);
    const got = entries((await post(ids)).text);
    const expected = trueCosts(ids).flatMap((e) =>
      inShare(P, e.requestId, 'duplicate-ids', 0.2) ? [e, e] : [e],
    );
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(ids.length);
    for (const id of ids) expect(sim.answeredIds(P).has(id)).toBe(true);
  });

  it('unknown-ids: adds ids that were not asked for, not counted as answered', async () => {
    const ids = idsOf('unk', 10);
    sim.setFaults(P, [{ kind: 'unknown-ids', count: 3 }]);
    const got = entries((await post(ids)).text);
    expect(got.slice(0, 10)).toEqual(trueCosts(ids));
    const extra = got.slice(10);
    expect(extra).toHaveLength(3);
    for (const e of extra) {
      expect(ids).not.toContain(e.requestId);
      expect(sim.answeredIds(P).has(e.requestId)).toBe(false);
    }
    expect(new Set(extra.map((e) => e.requestId)).size).toBe(3);
  });

  it.each([
    ['negative', -5],
    ['fractional', 1.5],
    ['string', '1200'],
  ] as const)('bad-cost %s: the picked ids get %j and are not answered', async (cost, value) => {
    const ids = idsOf(`bad-${cost}`, 100);
    const bad = new Set(ids.filter((id) => inShare(P, id, 'bad-cost', 0.4)));
    sim.setFaults(P, [{ kind: 'bad-cost', cost, share: 0.4 }]);
    const got = entries((await post(ids)).text);
    expect(got).toEqual(
      trueCosts(ids).map((e) => (bad.has(e.requestId) ? { ...e, costNanoUsd: value } : e)),
    );
    const answered = sim.answeredIds(P);
    for (const id of ids) expect(answered.has(id)).toBe(!bad.has(id));
  });

  it('bad-cost huge: writes an integer above 2^53 that a double cannot hold', async () => {
    sim.setFaults(P, [{ kind: 'bad-cost', cost: 'huge', share: 1 }]);
    const res = await post(['huge-1']);
    expect(res.text).toBe(
      '{"requests":[{"requestId":"huge-1","costNanoUsd":12345678901234567890}]}',
    );
    const parsed = entries(res.text)[0]!.costNanoUsd as number;
    expect(parsed).toBeGreaterThan(2 ** 53);
    expect(BigInt(parsed)).not.toBe(BigInt(BAD_COST_TEXT.huge));
    expect(sim.answeredIds(P).has('huge-1')).toBe(false);
  });

  it('malformed-json: a truncated body, nothing answered', async () => {
    sim.setFaults(P, [{ kind: 'malformed-json' }]);
    const res = await post(['mj-1', 'mj-2']);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(() => JSON.parse(res.text)).toThrow();
    expect(res.text.startsWith('{"requests":[')).toBe(true);
    expect(sim.answeredIds(P).has('mj-1')).toBe(false);
  });

  it('wrong-content-type: valid JSON served as text/html', async () => {
    sim.setFaults(P, [{ kind: 'wrong-content-type' }]);
    const res = await post(['ct-1']);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(entries(res.text)).toEqual(trueCosts(['ct-1']));
    expect(sim.answeredIds(P).has('ct-1')).toBe(false);
  });

  it('oversized-body: a valid answer padded to the given size, with or without Content-Length', async () => {
    const bytes = 3 * 1024 * 1024;
    sim.setFaults(P, [{ kind: 'oversized-body', bytes, times: 1 }]);
    const res = await post(['big-1']);
    expect(Buffer.byteLength(res.text)).toBe(bytes);
    expect(res.headers['content-length']).toBe(String(bytes));
    expect(entries(res.text)).toEqual(trueCosts(['big-1']));
    expect(sim.answeredIds(P).has('big-1')).toBe(false);

    sim.setFaults(P, [{ kind: 'oversized-body', bytes, chunked: true }]);
    const chunked = await post(['big-2']);
    expect(chunked.headers['content-length']).toBeUndefined();
    expect(chunked.headers['transfer-encoding']).toBe('chunked');
    expect(Buffer.byteLength(chunked.text)).toBe(bytes);
  });

  it('faults are per provider and validated', () => {
    sim.setFaults('groq', [{ kind: 'timeout' }]);
    expect(sim.faults(P)).toEqual([]);
    expect(() => sim.setFaults('nobody', [])).toThrow(/unknown provider/);
    const invalid: Fault[] = [
      { kind: 'drop-ids', share: 1.5 },
      { kind: 'status', status: 200 },
      { kind: 'slow', delayMs: -1 },
      { kind: 'unknown-ids', count: 1, times: 0 },
      { kind: 'bad-cost', cost: 'weird' as 'huge', share: 0.1 },
    ];
    for (const fault of invalid) expect(() => sim.setFaults(P, [fault])).toThrow(RangeError);
    sim.clearFaults('groq');
    expect(sim.faults('groq')).toEqual([]);
  });
});

describe('models route', () => {
  it('lists the models with pricing, OpenAI style', async () => {
    const res = await request(sim.modelsUrl('groq'), {
      headers: { authorization: 'Bearer sim-token-groq' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(await res.body.json()).toEqual({
      object: 'list',
      data: [
        {
          id: 'meta-llama/Llama-3.3-70B-Instruct',
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'groq',
          pricing: { input: 0.59, output: 0.79 },
          context_length: 131_072,
        },
        {
          id: 'openai/gpt-oss-120b',
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'groq',
          pricing: { input: 0.15, output: 0.75 },
          context_length: 131_000,
        },
      ],
    });
    expect(sim.calls()).toEqual([]);
  });

  it('401 without the token, 404 for an unknown provider', async () => {
    const noAuth = await request(sim.modelsUrl('groq'));
    expect(noAuth.statusCode).toBe(401);
    await noAuth.body.dump();
    const unknown = await request(sim.modelsUrl('nobody'));
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
  });
});

describe('close', () => {
  it('ends requests left hanging by a timeout fault', async () => {
    const own = await startProviderSimulator({ providers: { p: { token: 't' } } });
    own.setFaults('p', [{ kind: 'timeout' }]);
    const pending = request(own.costUrl('p'), {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
      body: '{"requestIds":["a"]}',
    });
    const settled = pending.then(
      () => 'answered',
      () => 'failed',
    );
    await vi.waitFor(() => expect(own.calls()).toHaveLength(1)); // the request is in, unanswered
    await own.close();
    expect(await settled).toBe('failed');
  });
});
