import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@nanobill/config';
import { loadProviders, type ProviderRegistry } from '@nanobill/providers';
import { SERVICES } from '@nanobill/pipeline';
import { SIMULATE_ENV } from '@nanobill/provider-simulator';

// docker-compose.yml against the code, without a Docker engine: the file is valid against the
// Compose Specification's JSON schema (the copy shipped in node_modules/docker-compose, a
// dependency of testcontainers; `docker compose config` is not available on these machines),
// and what it runs, reads and mounts is what the code expects.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/**
 * Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$` in every string
 * of the file: a required variable that is missing fails, as `docker compose up` does.
 */
function interpolate<T>(value: T, vars: Record<string, string>): T {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g,
      (whole, name?: string, op?: string, arg?: string) => {
        if (whole === '$$') return '$';
        const set = vars[name!];
        if (set !== undefined && set !== '') return set;
        if (op === '?') throw new Error(`required variable ${name}: ${arg}`);
        return op === '-' ? arg! : '';
      },
    ) as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => interpolate(v, vars)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)]),
    ) as T;
  }
  return value;
}
/** What an operator must provide: compose refuses to start without it. */
const REQUIRED_VARS = { NANOBILL_CLICKHOUSE_PASSWORD: 'compose-test-password' };
// Anchors and `<<` merge keys resolved, as Compose resolves them.
const rawCompose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const compose = interpolate(rawCompose, REQUIRED_VARS);
const services = compose.services;
const ROOT_PACKAGE = JSON.parse(read('package.json')) as {
  version: string;
  dependencies: { node: string };
};
const VERSION = ROOT_PACKAGE.version;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  secrets?: string[];
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
}

/** Services that run the nanobill image. */
const nanobill = Object.entries(services).filter(([, s]) => s.command?.[0] === 'nanobill');
const runOnly = (name: string) => ['nanobill', 'run', '--only', name];
const env = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
/** The variables `loadConfig` reads: it is asked with an environment that records each look-up. */
const CONFIG_ENV = (() => {
  const keys = new Set<string>();
  loadConfig(
    new Proxy({} as NodeJS.ProcessEnv, {
      get: (_target, key) => {
        if (typeof key === 'string') keys.add(key);
        return undefined;
      },
    }),
  );
  return keys;
})();
/** Inside the image the repository is /app. */
const repoPath = (containerPath: string) => {
  expect(containerPath.startsWith('/app/'), containerPath).toBe(true);
  return join(ROOT, containerPath.slice('/app/'.length));
};
/** Compose secret name of a `/run/secrets/<name>` path. */
const secretName = (path: string) => /^\/run\/secrets\/([\w.-]+)$/.exec(path)?.[1];
/** The checkout's file behind a compose secret. */
const secretSource = (name: string) => compose.secrets?.[name]?.file;
/**
 * A file as the service's container sees it: a `/run/secrets/<name>` file exists only when the
 * service mounts that secret; `/app/…` is the checkout.
 */
function containerFile(s: Service, path: string): Buffer {
  const secret = secretName(path);
  if (secret === undefined) return readFileSync(repoPath(path));
  const source = secretSource(secret);
  if (!(s.secrets ?? []).includes(secret) || source === undefined) {
    throw Object.assign(new Error(`${path}: not mounted`), { code: 'ENOENT' });
  }
  return readFileSync(join(ROOT, source));
}
/** Services whose process loads the providers file: `nanobill run` and the provider simulator. */
const loadsProviders = (s: Service) =>
  s.command?.[1] === 'run' || s.command?.slice(1, 3).join(' ') === 'simulate providers';
/** The providers file a service loads, read as in its container (caFile included). */
const providersOf = (s: Service): ProviderRegistry =>
  loadProviders(repoPath(env(s).NANOBILL_PROVIDERS_FILE ?? '/app/infra/providers/local.json'), {
    readFile: (path) => containerFile(s, path),
  });
const remoteProvidersOf = (s: Service) =>
  loadsProviders(s) ? [...providersOf(s).remote.values()] : [];

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const { $schema: _, ...schema } = JSON.parse(
      read('node_modules/docker-compose/schema/compose-spec.json'),
    ) as Record<string, unknown>;
    const validate = new Ajv({ allErrors: true, unknownFormats: 'ignore' }).compile(schema);
    const valid = validate(compose);
    expect(
      (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message}`),
      'schema errors',
    ).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs every pipeline service alone, as `nanobill run --only <service>`, and nothing else that way', () => {
    for (const name of SERVICES) {
      expect(
        Object.values(services).filter(
          (s) => JSON.stringify(s.command) === JSON.stringify(runOnly(name)),
        ),
        `a service running ${name}`,
      ).toHaveLength(1);
    }
    const run = nanobill.filter(([, s]) => s.command?.[1] === 'run');
    expect(run.map(([, s]) => s.command?.[3]).sort()).toEqual([...SERVICES].sort());
  });

  it('starts the services after `nanobill migrate` has completed, and after Kafka and ClickHouse are healthy', () => {
    expect(services.migrate?.command).toEqual(['nanobill', 'migrate']);
    expect(services.migrate?.restart).toBe('no');
    for (const name of SERVICES) {
      const s = services[name]!;
      expect(s.depends_on?.migrate, name).toEqual({ condition: 'service_completed_successfully' });
      expect(s.depends_on?.kafka, name).toEqual({ condition: 'service_healthy' });
      expect(s.depends_on?.clickhouse, name).toEqual({ condition: 'service_healthy' });
    }
  });

  it('checks each service’s readiness on its ops port, inside its container', () => {
    for (const name of SERVICES) {
      const s = services[name]!;
      const test = s.healthcheck?.test.join(' ') ?? '';
      const config = loadConfig(env(s));
      expect(test, name).toContain(`http://127.0.0.1:${config.ops.port}/readyz`);
      expect(config.ops.port, name).not.toBe(config.port);
    }
  });

  it('publishes the API port of the api service only, never an ops port', () => {
    for (const [name, s] of nanobill) {
      const config = loadConfig(env(s));
      // "host:container" or "container": the container side is the last number.
      const published = (s.ports ?? []).map((p) => Number(String(p).split(':').at(-1)));
      expect(published, name).not.toContain(config.ops.port);
      expect(published, name).toEqual(name === 'api' ? [config.port] : []);
    }
  });

  it('publishes ports on the host loopback only: published ports bypass the host firewall', () => {
    const published = Object.entries(services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => [name, String(p)] as const),
    );
    expect(published.map(([name]) => name).sort()).toEqual(['api', 'clickhouse', 'kafka']);
    for (const [name, port] of published) {
      expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('writes no ClickHouse password: it comes from a variable the operator must set', () => {
    expect(() => interpolate(rawCompose, {})).toThrow(
      /required variable NANOBILL_CLICKHOUSE_PASSWORD/,
    );
    expect(services.clickhouse?.environment?.CLICKHOUSE_PASSWORD).toBe('compose-test-password');
    for (const [name, s] of nanobill) {
      const url = env(s).CLICKHOUSE_URL;
      if (url !== undefined) expect(new URL(url).password, name).toBe('compose-test-password');
    }
    const text = read('docker-compose.yml');
    expect(text).not.toMatch(/PASSWORD:\s*['"]?\w/);
    expect(text).not.toMatch(/--password['",\s]+\w/);
  });

  it('runs the provider and router simulators', () => {
    expect(services['provider-simulator']?.command?.slice(0, 3)).toEqual([
      'nanobill',
      'simulate',
      'providers',
    ]);
    expect(services['router-simulator']?.command?.slice(0, 3)).toEqual([
      'nanobill',
      'simulate',
      'router',
    ]);
  });

  it('pins every image; the nanobill image is built from infra/docker/Dockerfile on the LTS of package.json', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/^[a-z0-9./_-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
      expect(s.image, name).not.toMatch(/:latest$/);
      if (s.build) expect(s.image, name).toBe(`nanobill:${VERSION}`);
    }
    for (const [name, s] of nanobill) {
      expect(s.build, name).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile' });
    }
    const from = /^FROM\s+(\S+)/m.exec(read('infra/docker/Dockerfile'))?.[1];
    // The image runs the very Node version that checkouts get from the registry's `node` package.
    const [, version] = /^node:(\d+\.\d+\.\d+)-(?:bookworm|trixie)-slim$/.exec(from ?? '') ?? [];
    expect(version, from).toBe(ROOT_PACKAGE.dependencies.node);
    expect(existsSync(join(ROOT, '.dockerignore'))).toBe(true);
  });

  it('sets only variables the code reads, with values loadConfig accepts', () => {
    for (const [name, s] of nanobill) {
      const vars = env(s);
      const allowed = new Set([
        ...CONFIG_ENV,
        ...SIMULATE_ENV,
        'LOG_LEVEL', // @nanobill/observability's logger
        ...remoteProvidersOf(s).map((p) => p.tokenEnv),
      ]);
      expect(
        Object.keys(vars).filter((k) => !allowed.has(k)),
        `${name}: variables nothing reads`,
      ).toEqual([]);
      const config = loadConfig(vars);
      // Kafka and ClickHouse are the compose services, never the local defaults.
      expect(
        config.kafkaBrokers?.map((b) => b.split(':')[0]),
        name,
      ).toEqual(['kafka']);
      expect(new URL(config.clickhouseUrl ?? 'missing:').hostname, name).toBe('clickhouse');
      expect(config.host, name).toBe('0.0.0.0');
    }
  });

  it('mounts every secret file a service is pointed at, from a file that exists', () => {
    expect(env(services.alerts!).NANOBILL_OPS_WEBHOOK_SECRET_FILE).toBe(
      '/run/secrets/nanobill-ops-webhook-secret',
    );
    // The services that read or make account webhook secrets share one key.
    for (const name of ['alerts', 'api']) {
      expect(env(services[name]!).NANOBILL_SECRETS_KEY_FILE, name).toBe(
        '/run/secrets/nanobill-secrets-key',
      );
    }
    for (const [name, s] of nanobill) {
      const providers = remoteProvidersOf(s);
      const tokenFiles = new Set(providers.flatMap((p) => p.tokenFile ?? []));
      const files = [
        ...Object.entries(env(s))
          .filter(([k]) => k.endsWith('_FILE') && k !== 'NANOBILL_PROVIDERS_FILE')
          .map(([, v]) => v),
        ...tokenFiles,
        // Read when the providers file is loaded: every service that loads it mounts them.
        ...providers.flatMap((p) => p.caFile ?? []),
      ];
      for (const file of new Set(files)) {
        const secret = secretName(file);
        expect(secret, `${name}: ${file} is a compose secret`).toBeDefined();
        // Only the services that read a provider token mount it (ingest and api need the names only).
        const needed =
          !tokenFiles.has(file) || ['pricing', 'enforcement', 'provider-simulator'].includes(name);
        if (!needed) continue;
        expect(s.secrets ?? [], name).toContain(secret);
        const source = secretSource(secret!);
        expect(source, secret).toBeDefined();
        expect(existsSync(join(ROOT, source!)), source).toBe(true);
      }
    }
  });

  it('points the services at a providers file that loads, whose endpoints are the provider simulator', () => {
    const simulator = services['provider-simulator']!;
    const port = simulator.command![simulator.command!.indexOf('--port') + 1];
    for (const [name, s] of nanobill) {
      expect(env(s).NANOBILL_PROVIDERS_FILE, name).toBe('/app/infra/providers/compose.json');
    }
    const registry = providersOf(simulator);
    expect(registry.remote.size).toBeGreaterThan(0);
    for (const p of registry.remote.values()) {
      expect(p.costUrl).toBe(`https://provider-simulator:${port}/${p.name}/cost`);
      expect(p.modelsUrl).toBe(`https://provider-simulator:${port}/${p.name}/v1/models`);
    }
    // Over HTTPS, with a certificate for that name that each provider trusts (its caFile).
    const flag = (f: string) => simulator.command![simulator.command!.indexOf(f) + 1]!;
    const secretFile = (path: string) => secretSource(secretName(path)!)!;
    const cert = new X509Certificate(read(secretFile(flag('--tls-cert'))));
    expect(cert.checkHost('provider-simulator')).toBe('provider-simulator');
    expect(cert.checkPrivateKey(createPrivateKey(read(secretFile(flag('--tls-key')))))).toBe(true);
    for (const p of registry.remote.values()) {
      expect(p.caFile, p.name).toBe(flag('--tls-cert'));
      expect(p.ca, p.name).toEqual([cert.toString().trim()]);
    }
    // Its health check trusts that certificate for its own request: nothing in the container
    // trusts it process-wide.
    expect(simulator.healthcheck?.test.join(' ')).toContain(
      `{ ca: require('fs').readFileSync('${flag('--tls-cert')}') }`,
    );
  });

  it('trusts the simulator’s certificate per provider only: no service sets NODE_EXTRA_CA_CERTS', () => {
    // NODE_EXTRA_CA_CERTS makes every connection of the process trust the file, real providers'
    // hosts included; a providers file's caFile is trusted by that provider's connections only.
    for (const [name, s] of Object.entries(services)) {
      expect(Object.keys(env(s)), name).not.toContain('NODE_EXTRA_CA_CERTS');
    }
  });

  it('the committed certificates are leaves, not CAs: their committed keys can sign nothing', () => {
    const simulator = services['provider-simulator']!;
    const served = simulator.command![simulator.command!.indexOf('--tls-cert') + 1]!;
    const trusted = remoteProvidersOf(simulator).flatMap((p) => p.caFile ?? []);
    for (const path of new Set([served, ...trusted])) {
      const cert = new X509Certificate(read(secretSource(secretName(path)!)!));
      expect(cert.ca, path).toBe(false);
      expect(cert.keyUsage, path).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    }
  });

  it('every providers file in infra/providers loads, with the same providers', () => {
    const files = readdirSync(join(ROOT, 'infra/providers')).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(
      expect.arrayContaining(['compose.json', 'local.json', 'production.json']),
    );
    // compose.json names the simulator's certificate as pricing's container sees it.
    const asPricing = (path: string) => containerFile(services.pricing!, path);
    const names = files.map((f) =>
      loadProviders(join(ROOT, 'infra/providers', f), { readFile: asPricing }).names.sort(),
    );
    for (const list of names) expect(list).toEqual(names[0]);
  });
});
