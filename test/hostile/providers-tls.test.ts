import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProviderSimulator, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  fetchModelPrices,
  parseProviders,
  providerConnectOptions,
  type RemoteProvider,
} from '@nanobill/providers';
import { tempDir, testCa, testCertificate, type TestCertificate } from '@nanobill/testkit';
import { CostClient, type CallOutcome } from '@nanobill/pricing';

// Trust in a provider's certificate is the providers file's `caFile`, scoped to that provider's
// connections (its cost pool and its price-list fetch), never the whole process. The compose
// stack's simulator certificate is a self-signed leaf: trusted by mistake, it still vouches for
// nothing but the simulator. A man in the middle of a provider's connections would read its bearer
// token and forge costs; every attack here checks that the token never reaches the impostor.

const SECRETS = fileURLToPath(new URL('../../infra/docker/secrets/', import.meta.url));
/** The committed development certificate and key of the compose stack's provider simulator. */
const SIMULATOR_CERT_FILE = join(SECRETS, 'provider-simulator-tls.crt.dev');
const SIMULATOR = {
  cert: readFileSync(SIMULATOR_CERT_FILE, 'utf8'),
  key: readFileSync(join(SECRETS, 'provider-simulator-tls.key.dev'), 'utf8'),
};
const TOKEN = 'sk-providers-tls-t0ken-never-to-an-impostor';
const TOKEN_ENV = 'NANOBILL_TEST_PROVIDERS_TLS_TOKEN';
process.env[TOKEN_ENV] = TOKEN;
const MODELS = [{ id: 'openai/gpt-oss-120b', pricing: { input: 0.2, output: 2 } }];

const dir = tempDir('nanobill-providers-tls-');
function pemFile(name: string, pem: string): string {
  const path = join(dir, name);
  writeFileSync(path, pem);
  return path;
}

/** One remote provider as the providers file gives it (loaded, so `caFile` is read as at start). */
function provider(base: string, extra: Record<string, unknown> = {}): RemoteProvider {
  return parseProviders({
    acme: {
      costUrl: `${base}/acme/cost`,
      modelsUrl: `${base}/acme/v1/models`,
      tokenEnv: TOKEN_ENV,
      timeoutMs: 5_000,
      ...extra,
    },
  }).remote.get('acme')!;
}

async function askCosts(p: RemoteProvider): Promise<CallOutcome> {
  const client = new CostClient(p);
  try {
    return await client.ask(['req-tls-1']);
  } finally {
    await client.close();
  }
}

/** An HTTPS server that records what reaches it: an impostor hopes for the bearer token. */
interface Impostor {
  base: string;
  authorizations: string[];
  close(): Promise<void>;
}
const impostors: Impostor[] = [];
async function impostor(certificate: TestCertificate, host = '127.0.0.1'): Promise<Impostor> {
  const authorizations: string[] = [];
  const server: Server = createServer(certificate, (req, res) => {
    authorizations.push(String(req.headers.authorization));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ requests: [{ requestId: 'req-tls-1', costNanoUsd: 1 }], data: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const found: Impostor = {
    base: `https://${host}:${port}`,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  impostors.push(found);
  return found;
}

let simulator: ProviderSimulator;
beforeAll(async () => {
  simulator = await startProviderSimulator({
    tls: SIMULATOR,
    providers: { acme: { token: TOKEN, models: MODELS } },
  });
});
afterAll(async () => {
  await simulator.close();
  await Promise.all(impostors.map((i) => i.close()));
});

describe('the compose simulator certificate', () => {
  it('is a leaf for the simulator only: not a CA, a server certificate', () => {
    const cert = new X509Certificate(SIMULATOR.cert);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extendedKeyUsage: serverAuth only
    expect(cert.checkHost('provider-simulator')).toBe('provider-simulator');
    expect(cert.checkHost('router.huggingface.co')).toBeUndefined();
    // Self-signed: the file is its own trust anchor, and no chain runs through it.
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });
});

describe('a provider with caFile', () => {
  const trusting = () => provider(simulator.url, { caFile: SIMULATOR_CERT_FILE });

  it('reaches the simulator over https: costs and the price list', async () => {
    expect(simulator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await askCosts(trusting())).toMatchObject({ outcome: 'ok' });
    const prices = await fetchModelPrices(trusting(), { token: TOKEN });
    expect(prices.get('openai/gpt-oss-120b')).toEqual({ input: 0.2, output: 2 });
    // By name too: the certificate's SANs include localhost.
    const byName = provider(simulator.url.replace('127.0.0.1', 'localhost'), {
      caFile: SIMULATOR_CERT_FILE,
    });
    expect(await askCosts(byName)).toMatchObject({ outcome: 'ok' });
  });

  it('still trusts the public CAs (caFile adds to them, it does not replace them)', () => {
    // A `ca` option replaces Node's trusted roots: the public ones must be listed with it, or a
    // provider moving to a publicly trusted certificate would be refused.
    const ca = providerConnectOptions(trusting()).ca ?? [];
    expect(ca).toEqual(expect.arrayContaining([...rootCertificates]));
    expect(ca).toContain(SIMULATOR.cert.trim());
    expect(providerConnectOptions(provider(simulator.url))).toEqual({});
  });

  it('refuses a certificate minted for another host with the committed key (the leaf cannot sign)', async () => {
    // The reviewer's attack: the committed key signs a certificate for a real provider's host.
    const minted = await testCertificate(['router.huggingface.co', 'localhost', '127.0.0.1'], {
      issuer: SIMULATOR,
    });
    const mitm = await impostor(minted);
    const victim = provider(mitm.base, { caFile: SIMULATOR_CERT_FILE });
    const outcome = await askCosts(victim);
    expect(outcome).toMatchObject({ outcome: 'network_error' });
    expect(JSON.stringify(outcome)).toMatch(/certificate/);
    await expect(fetchModelPrices(victim, { token: TOKEN })).rejects.toThrow(/certificate/);
    expect(mitm.authorizations).toEqual([]);
  });

  it('refuses a certificate signed by another CA', async () => {
    const otherCa = await testCa();
    const mitm = await impostor(await testCertificate(['127.0.0.1'], { issuer: otherCa }));
    const victim = provider(mitm.base, { caFile: SIMULATOR_CERT_FILE });
    expect(await askCosts(victim)).toMatchObject({ outcome: 'network_error' });
    await expect(fetchModelPrices(victim, { token: TOKEN })).rejects.toThrow(/certificate/);
    expect(mitm.authorizations).toEqual([]);
  });

  it('refuses the trusted certificate itself when it is presented for another name', async () => {
    const leaf = await testCertificate(['localhost']);
    const server = await impostor(leaf);
    // Connected by address: 127.0.0.1 is not among the certificate's names.
    const victim = provider(server.base, { caFile: pemFile('localhost-only.pem', leaf.cert) });
    const outcome = await askCosts(victim);
    expect(outcome).toMatchObject({ outcome: 'network_error' });
    expect(JSON.stringify(outcome)).toMatch(/altnames|does not match/);
    await expect(fetchModelPrices(victim, { token: TOKEN })).rejects.toThrow(
      /altnames|does not match/,
    );
    expect(server.authorizations).toEqual([]);
    // The same server by the name it is for is reached: the refusal was the name.
    const byName = provider(server.base.replace('127.0.0.1', 'localhost'), {
      caFile: pemFile('localhost-only.pem', leaf.cert),
    });
    expect(await askCosts(byName)).toMatchObject({ outcome: 'ok' });
    expect(server.authorizations).toEqual([`Bearer ${TOKEN}`]);
  });
});

describe('the trust of caFile is scoped to its provider', () => {
  it('a provider without caFile does not trust the simulator certificate', async () => {
    simulator.resetCalls();
    const other = provider(simulator.url);
    const outcome = await askCosts(other);
    expect(outcome).toMatchObject({ outcome: 'network_error' });
    expect(JSON.stringify(outcome)).toMatch(/self-signed certificate/);
    await expect(fetchModelPrices(other, { token: TOKEN })).rejects.toThrow(
      /self-signed certificate/,
    );
    expect(simulator.calls()).toEqual([]);
  });

  it('a provider does not trust another provider’s caFile', async () => {
    const [certA, certB] = await Promise.all([
      testCertificate(['127.0.0.1']),
      testCertificate(['127.0.0.1']),
    ]);
    const serverB = await impostor(certB);
    const a = provider(serverB.base, { caFile: pemFile('a.pem', certA.cert) });
    expect(await askCosts(a)).toMatchObject({ outcome: 'network_error' });
    await expect(fetchModelPrices(a, { token: TOKEN })).rejects.toThrow(/certificate/);
    expect(serverB.authorizations).toEqual([]);
    const b = provider(serverB.base, { caFile: pemFile('b.pem', certB.cert) });
    expect(await askCosts(b)).toMatchObject({ outcome: 'ok' });
  });

  it('the rest of the process does not trust it either, while a provider with caFile is in use', async () => {
    const client = new CostClient(provider(simulator.url, { caFile: SIMULATOR_CERT_FILE }));
    try {
      expect(await client.ask(['req-tls-1'])).toMatchObject({ outcome: 'ok' });
      await expect(request(`${simulator.url}/`)).rejects.toThrow(/self-signed certificate/);
      // fetch wraps the TLS error: its cause says why.
      const refused = await fetch(`${simulator.url}/`).then(
        () => undefined,
        (error: Error) => error.cause as Error,
      );
      expect(refused?.message).toMatch(/self-signed certificate/);
    } finally {
      await client.close();
    }
  });
});
