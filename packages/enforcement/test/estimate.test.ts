import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentCosts, estimateCost, type PriceSources } from '../src/index.js';

function sources(overrides: Partial<PriceSources> = {}): PriceSources {
  return {
    hardwarePrice: (hardware) => (hardware === 'cpu' ? '0.00012' : undefined),
    tokenPricing: (provider, model, providerModelId) =>
      provider === 'groq' && (providerModelId ?? model) === 'llama'
        ? { pricing: { input: 0.2, output: 2 }, source: 'models_api' }
        : provider === 'groq'
          ? { pricing: { input: '0.5', output: '1.5' }, source: 'providers_file' }
          : undefined,
    recent: new RecentCosts(3),
    ...overrides,
  };
}

describe('estimateCost', () => {
  it('prices hf-inference from compute time exactly (seed: 10 s at $0.00012/s)', () => {
    expect(
      estimateCost(
        { provider: 'hf-inference', model: 'm', computeTimeMs: 10_000, hardware: 'cpu' },
        sources(),
      ),
    ).toEqual({ nano: 1_200_000n, source: 'hf_compute_time' });
  });

  it('uses token usage × the published price, exact to the nano-USD', () => {
    // 1,000 × $0.2/M + 500 × $2/M = $0.0002 + $0.001 = 1,200,000 nano-USD
    expect(
      estimateCost(
        { provider: 'groq', model: 'llama', usage: { inputTokens: 1_000, outputTokens: 500 } },
        sources(),
      ),
    ).toEqual({ nano: 1_200_000n, source: 'models_api' });
    // providers-file fallback: 1,000 × $0.5/M + 500 × $1.5/M = 1,250,000 nano-USD
    expect(
      estimateCost(
        { provider: 'groq', model: 'other', usage: { inputTokens: 1_000, outputTokens: 500 } },
        sources(),
      ),
    ).toEqual({ nano: 1_250_000n, source: 'providers_file' });
  });

  it('falls back to the recent average of the model, then of the provider, then 0', () => {
    const recent = new RecentCosts(3);
    const s = sources({ recent });
    const request = { provider: 'fal-ai', model: 'flux' };
    expect(estimateCost(request, s)).toEqual({ nano: 0n, source: 'none' });
    recent.record('fal-ai', 'sdxl', 10n);
    expect(estimateCost(request, s)).toEqual({ nano: 10n, source: 'provider_average' });
    recent.record('fal-ai', 'flux', 3n);
    recent.record('fal-ai', 'flux', 4n);
    // (3 + 4) / 2 = 3.5 → 4 (half-up)
    expect(estimateCost(request, s)).toEqual({ nano: 4n, source: 'recent_average' });
  });

  it('ignores usage without a published price and hardware without one', () => {
    const recent = new RecentCosts();
    recent.record('together', 'm', 77n);
    expect(
      estimateCost(
        { provider: 'together', model: 'm', usage: { inputTokens: 1, outputTokens: 1 } },
        sources({ recent }),
      ),
    ).toEqual({ nano: 77n, source: 'recent_average' });
    expect(
      estimateCost(
        { provider: 'hf-inference', model: 'm', computeTimeMs: 5, hardware: 'h100' },
        sources({ recent }),
      ).source,
    ).toBe('none');
  });
});

describe('RecentCosts', () => {
  it('averages over the last `size` costs only', () => {
    const recent = new RecentCosts(2);
    recent.record('p', 'm', 100n);
    recent.record('p', 'm', 200n);
    recent.record('p', 'm', 400n);
    expect(recent.modelAverage('p', 'm')).toBe(300n);
    expect(recent.providerAverage('p')).toBe(300n);
    expect(recent.modelAverage('p', 'other')).toBeUndefined();
  });

  it('is the half-up rounded mean of the window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { minLength: 1, maxLength: 40 }),
        (size, costs) => {
          const recent = new RecentCosts(size);
          for (const c of costs) recent.record('p', 'm', c);
          const window = costs.slice(-size);
          const sum = window.reduce((a, b) => a + b, 0n);
          const n = BigInt(window.length);
          const expected = (2n * sum + n) / (2n * n);
          expect(recent.modelAverage('p', 'm')).toBe(expected);
        },
      ),
    );
  });

  it('refuses bad input', () => {
    expect(() => new RecentCosts(0)).toThrow(RangeError);
    expect(() => new RecentCosts().record('p', 'm', -1n)).toThrow(/negative/);
    expect(() => new RecentCosts().record('', 'm', 1n)).toThrow(/provider/);
  });
});

describe('estimateCost: never above the request’s ceiling', () => {
  const ceiling = 100_000_000_000n; // $100
  const capped = sources({ ceiling: () => ceiling });

  it('2^53 tokens (a hostile event) count as the ceiling, not $13.5 billion', () => {
    const huge = { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: Number.MAX_SAFE_INTEGER };
    expect(estimateCost({ provider: 'groq', model: 'llama', usage: huge }, sources()).nano).toBe(
      19_815_838_360_430_180_200n,
    );
    expect(estimateCost({ provider: 'groq', model: 'llama', usage: huge }, capped)).toEqual({
      nano: ceiling,
      source: 'models_api',
    });
  });

  it('below the ceiling an estimate is unchanged; no ceiling known, no cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (inputTokens, outputTokens) => {
          const request = {
            provider: 'groq',
            model: 'llama',
            usage: { inputTokens, outputTokens },
          };
          const raw = estimateCost(request, sources()).nano;
          const withCap = estimateCost(request, capped).nano;
          return withCap === (raw > ceiling ? ceiling : raw);
        },
      ),
    );
    expect(
      estimateCost(
        { provider: 'groq', model: 'llama', usage: { inputTokens: 1, outputTokens: 1 } },
        sources({ ceiling: () => undefined }),
      ).nano,
    ).toBe(2_200n);
  });
});
