import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request } from 'undici';
import {
  defaultSimulatedProviders,
  simulatedModels,
  simulatedTokenPricing,
  startProviderSimulator,
} from '../src/index.js';

describe('simulated published prices', () => {
  it('are deterministic whole thousandths: input 0.020–3.000, output 1–4 × input', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (provider, model) => {
        const { input, output } = simulatedTokenPricing(provider, model);
        expect(simulatedTokenPricing(provider, model)).toEqual({ input, output });
        for (const price of [input, output]) expect(String(price)).toMatch(/^\d+(\.\d{1,3})?$/);
        const inputMilli = Math.round(input * 1000);
        const ratio = Math.round(output * 1000) / inputMilli;
        expect(inputMilli).toBeGreaterThanOrEqual(20);
        expect(inputMilli).toBeLessThanOrEqual(3000);
        expect([1, 2, 3, 4]).toContain(ratio);
      }),
      { numRuns: 2000 },
    );
  });

  it('differ between providers of the same model', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `model-${i}`);
    const same = ids.filter(
      (id) =>
        JSON.stringify(simulatedTokenPricing('groq', id)) ===
        JSON.stringify(simulatedTokenPricing('together', id)),
    );
    expect(same.length).toBeLessThan(3);
  });

  it('defaultSimulatedProviders publishes the models it is given, none otherwise', () => {
    expect(Object.values(defaultSimulatedProviders()).every((p) => p.models === undefined)).toBe(
      true,
    );
    const providers = defaultSimulatedProviders(undefined, {
      groq: ['openai/gpt-oss-120b', 'llama-3.3-70b-versatile', 'openai/gpt-oss-120b'],
      'hf-inference': ['ignored'],
    });
    expect(providers.groq).toEqual({
      token: 'sim-token-groq',
      models: simulatedModels('groq', ['openai/gpt-oss-120b', 'llama-3.3-70b-versatile']),
    });
    expect(providers['hf-inference']).toBeUndefined();
    expect(providers.together?.models).toBeUndefined();
  });

  it('are served on /v1/models as 3-decimal JSON numbers', async () => {
    const sim = await startProviderSimulator({
      providers: defaultSimulatedProviders(undefined, { groq: ['openai/gpt-oss-120b'] }),
    });
    try {
      const res = await request(sim.modelsUrl('groq'), {
        headers: { authorization: 'Bearer sim-token-groq' },
      });
      const text = await res.body.text();
      const { input, output } = simulatedTokenPricing('groq', 'openai/gpt-oss-120b');
      expect(text).toContain(`"pricing":{"input":${input},"output":${output}}`);
      expect(text).toMatch(/"pricing":\{"input":\d+(\.\d{1,3})?,"output":\d+(\.\d{1,3})?\}/);
    } finally {
      await sim.close();
    }
  });
});
