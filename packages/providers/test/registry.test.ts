import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROVIDERS } from '@nanobill/contract';
import { loadProviders, parseProviders, providerToken } from '../src/index.js';

const PROVIDERS_DIR = fileURLToPath(new URL('../../../infra/providers/', import.meta.url));
/** compose.json's caFile, a compose secret, is this file of the checkout. */
const SIMULATOR_CERT = fileURLToPath(
  new URL('../../../infra/docker/secrets/provider-simulator-tls.crt.dev', import.meta.url),
);
const SIMULATOR_KEY = SIMULATOR_CERT.replace('.crt.dev', '.key.dev');
const composeSecrets = (path: string) =>
  readFileSync(path === '/run/secrets/provider-simulator-tls-cert' ? SIMULATOR_CERT : path);
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
    // Cleartext only to this machine: a token and costs never cross a network unencrypted.
    [
      { groq: { ...groq, costUrl: 'http://billing.groq.example/costs' } },
      'groq.costUrl: must be https',
    ],
    [{ groq: { ...groq, costUrl: 'http://10.0.0.5/costs' } }, 'groq.costUrl'],
    [{ groq: { ...groq, costUrl: 'http://localhost.evil.example/costs' } }, 'groq.costUrl'],
    [{ groq: { ...groq, costUrl: 'http://127.0.0.1.nip.io/costs' } }, 'groq.costUrl'],
    [{ groq: { ...groq, modelsUrl: 'http://api.groq.example/v1/models' } }, 'groq.modelsUrl'],
    // Ceilings.
    [{ groq: { ...groq, maxCostUsd: 0 } }, 'groq.maxCostUsd: must be above 0'],
    [{ groq: { ...groq, maxCostUsd: '-1' } }, 'groq.maxCostUsd'],
    [{ groq: { ...groq, maxCostUsd: '0.0000000001' } }, 'groq.maxCostUsd: must be a whole number'],
    [{ groq: { ...groq, maxCostUsd: '9223372036.854775808' } }, 'groq.maxCostUsd: must be at most'],
    [{ groq: { ...groq, maxCostUsd: 'lots' } }, 'groq.maxCostUsd'],
    [
      { 'hf-inference': { hardware: { a10g: '0.00012' }, maxComputeSeconds: 0 } },
      'hf-inference.maxComputeSeconds',
    ],
    [
      { 'hf-inference': { hardware: { a10g: '0.00012' }, maxComputeSeconds: 1.5 } },
      'hf-inference.maxComputeSeconds',
    ],
    [
      { 'hf-inference': { hardware: { huge: '5000000' }, maxComputeSeconds: 2_000_000 } },
      'hf-inference.maxComputeSeconds: × the price of huge exceeds',
    ],
  ])('fails with a message that names the field (%#)', (file, field) => {
    expect(() => parseProviders(file)).toThrow(field);
  });

  it('http to a loopback host is allowed (the local simulator), https anywhere', () => {
    for (const costUrl of [
      'http://127.0.0.1:8787/groq/cost',
      'http://127.1/costs',
      'http://localhost:8787/costs',
      'http://[::1]:8787/costs',
      'https://billing.groq.example/costs',
    ]) {
      expect(parseProviders({ groq: { ...groq, costUrl } }).remote.get('groq')?.costUrl).toBe(
        costUrl,
      );
    }
  });

  it('ceilings: $100 per request and one hour of compute by default, exact decimals', () => {
    const registry = parseProviders({
      groq,
      together: { ...groq, maxCostUsd: '2.5' },
      cohere: { ...groq, maxCostUsd: 0.000000001 },
      'hf-inference': { hardware: { a10g: '0.00012' } },
    });
    expect(registry.remote.get('groq')?.maxCostNanoUsd).toBe(100_000_000_000n);
    expect(registry.remote.get('together')?.maxCostNanoUsd).toBe(2_500_000_000n);
    expect(registry.remote.get('cohere')?.maxCostNanoUsd).toBe(1n);
    expect(registry.maxComputeSeconds).toBe(3_600);
    expect(
      parseProviders({ 'hf-inference': { hardware: { a: '1' }, maxComputeSeconds: 60 } })
        .maxComputeSeconds,
    ).toBe(60);
  });

  it('every providers file of the repository loads', () => {
    for (const file of ['local.json', 'compose.json', 'production.json']) {
      expect(
        () => loadProviders(join(PROVIDERS_DIR, file), { readFile: composeSecrets }),
        file,
      ).not.toThrow();
    }
  });

  it('names the file when it is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanobill-providers-'));
    writeFileSync(join(dir, 'p.json'), '{ nope');
    expect(() => loadProviders(join(dir, 'p.json'))).toThrow(/p\.json/);
  });
});

describe('caFile: the certificates one provider is trusted by, besides the default ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanobill-ca-file-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const load = (caFile: unknown) => () => parseProviders({ groq: { ...groq, caFile } });

  it('is read when the file is loaded, for that provider only', () => {
    const registry = parseProviders({
      groq: { ...groq, caFile: SIMULATOR_CERT },
      together: groq,
    });
    expect(registry.remote.get('groq')?.ca).toEqual([readFileSync(SIMULATOR_CERT, 'utf8').trim()]);
    expect(registry.remote.get('together')?.ca).toBeUndefined();
  });

  it.each([
    [
      'a missing file',
      () => join(dir, 'missing.pem'),
      /groq\.caFile: cannot read .*missing\.pem \(ENOENT\)/,
    ],
    ['a directory', () => dir, /groq\.caFile: cannot read .* \(EISDIR\)/],
    ['an empty file', () => file('empty.pem', ''), /groq\.caFile: .*no PEM certificate/],
    ['text', () => file('text.pem', 'provider-simulator'), /groq\.caFile: .*no PEM certificate/],
    ['the key instead of the certificate', () => SIMULATOR_KEY, /groq\.caFile: .*private key/],
    ['an empty path', () => '', /groq\.caFile/],
    ['a number', () => 42, /groq\.caFile/],
  ])('refuses %s, naming the field', (_what, caFile, message) => {
    expect(load(caFile())).toThrow(message);
  });

  it('never quotes the file: a key given by mistake stays out of the message', () => {
    const key = readFileSync(SIMULATOR_KEY, 'utf8');
    const message = (() => {
      try {
        load(SIMULATOR_KEY)();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/groq\.caFile/);
    const keyLines = key.split('\n').filter((l) => l && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(0);
    for (const line of keyLines) expect(message).not.toContain(line);
  });

  it('is read through the given reader (tests map container paths)', () => {
    const registry = parseProviders(
      { groq: { ...groq, caFile: '/run/secrets/provider-simulator-tls-cert' } },
      'compose',
      { readFile: composeSecrets },
    );
    expect(registry.remote.get('groq')?.ca).toHaveLength(1);
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
