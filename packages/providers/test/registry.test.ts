import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROVIDERS } from '@nanobill/contract';
import { loadProviders, parseProviders, providerToken } from '../src/index.js';

const groq = { costUrl: 'https://billing.groq.example/costs', tokenEnv: 'GROQ_TOKEN' };

describe('the providers file', () => {
  it('the local stack file covers the 18 providers of the seed table', () => {
    const registry = loadProviders();
    expect(registry.names.sort()).toEqual([...DEFAULT_PROVIDERS].sort());
    expect(registry.remote.size).toBe(17);
    expect(registry.hardware.get('nvidia-a10g')).toBe('0.00012');
  });

  it('fills in the defaults', () => {
    const provider = parseProviders({ groq }).remote.get('groq');
    expect(provider).toMatchObject({
      name: 'groq',
      requestIdHeader: 'Inference-Id',
      timeoutMs: 10_000,
      concurrency: 2,
      retries: 2,
    });
  });

  it.each([
    [{ groq: { ...groq, costUrl: 'not a url' } }, 'groq.costUrl'],
    [{ groq: { ...groq, costUrl: 'ftp://x.example/costs' } }, 'groq.costUrl'],
    [{ groq: { costUrl: groq.costUrl } }, 'groq.tokenEnv'],
    [{ groq: { ...groq, tokenEnv: 'has space' } }, 'groq.tokenEnv'],
    [{ groq: { ...groq, pricing: { input: -1, output: 1 } } }, 'groq.pricing.input'],
    [{ groq: { ...groq, concurrency: 0 } }, 'groq.concurrency'],
    [{ groq: { ...groq, typo: true } }, 'groq'],
    [{ 'hf-inference': { hardware: { a10g: 'cheap' } } }, 'hf-inference.hardware.a10g'],
    [{ 'hf-inference': { hardware: {} } }, 'hf-inference.hardware'],
    [{ 'Bad Name': groq }, 'Bad Name'],
    [{}, 'no provider'],
    [[], '(file)'],
  ])('fails with a message that names the field (%#)', (file, field) => {
    expect(() => parseProviders(file)).toThrow(field);
  });

  it('names the file when it is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanobill-providers-'));
    writeFileSync(join(dir, 'p.json'), '{ nope');
    expect(() => loadProviders(join(dir, 'p.json'))).toThrow(/p\.json/);
  });
});

describe('providerToken', () => {
  const provider = parseProviders({ groq }).remote.get('groq')!;

  it('reads the variable named by tokenEnv', () => {
    expect(providerToken(provider, { GROQ_TOKEN: 's3cret' })).toBe('s3cret');
  });

  it('prefers a token file (a mounted secret)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanobill-token-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    expect(providerToken({ ...provider, tokenFile: join(dir, 'token') }, {})).toBe('from-file');
  });

  it('names where the token should be, never what it is', () => {
    expect(() => providerToken(provider, {})).toThrow('set GROQ_TOKEN');
  });
});
