import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  it('defaults to the embedded stack', () => {
    const config = loadConfig({});
    expect(config.kafkaBrokers).toBeUndefined();
    expect(config.clickhouseUrl).toBeUndefined();
    expect(config.dataDir).toMatch(/\.data$/);
    expect(config.port).toBe(8080);
    expect(config.requestsPartitions).toBe(6);
  });

  it('reads brokers, ClickHouse URL and port', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      CLICKHOUSE_URL: 'http://ch:8123',
      PORT: '9000',
    });
    expect(config.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.clickhouseUrl).toBe('http://ch:8123');
    expect(config.port).toBe(9000);
  });

  it.each([
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'no-port' }],
    ['CLICKHOUSE_URL', { CLICKHOUSE_URL: 'not a url' }],
    ['PORT', { PORT: '70000' }],
    ['NANOBILL_REQUESTS_PARTITIONS', { NANOBILL_REQUESTS_PARTITIONS: '0' }],
  ])('names %s when it is invalid', (name, env) => {
    expect(() => loadConfig(env)).toThrow(name);
  });
});

describe('loadConfig: a secured Kafka and the listen address', () => {
  it('is plain Kafka on 127.0.0.1 by default', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.kafkaSecurity).toEqual({
      ssl: false,
      caFile: undefined,
      sasl: undefined,
      allowCleartext: false,
    });
  });

  it('reads TLS and SASL settings, the password from the environment or a file', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/run/secrets/kafka-ca.pem',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'nanobill',
      KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka-password',
    });
    expect(config.host).toBe('0.0.0.0');
    expect(config.kafkaSecurity).toEqual({
      ssl: true,
      caFile: '/run/secrets/kafka-ca.pem',
      sasl: {
        mechanism: 'scram-sha-512',
        username: 'nanobill',
        password: undefined,
        passwordFile: '/run/secrets/kafka-password',
      },
      allowCleartext: false,
    });
  });

  it.each([
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD'],
    [
      {
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_PASSWORD_FILE: '/f',
      },
      'KAFKA_SASL_PASSWORD',
    ],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM'],
    [{ KAFKA_SSL: 'yes' }, 'KAFKA_SSL'],
  ])('refuses an incomplete or unknown SASL/TLS setting, naming %j', (env, name) => {
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('refuses SASL over a cleartext connection unless explicitly allowed', () => {
    const sasl = {
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'nanobill',
      KAFKA_SASL_PASSWORD: 'p',
    };
    expect(() => loadConfig(sasl)).toThrow(/KAFKA_SSL: SASL without TLS/);
    expect(() => loadConfig({ ...sasl, KAFKA_SASL_ALLOW_CLEARTEXT: 'false' })).toThrow('KAFKA_SSL');
    expect(loadConfig({ ...sasl, KAFKA_SSL: 'true' }).kafkaSecurity.ssl).toBe(true);
    expect(loadConfig({ ...sasl, KAFKA_SSL_CA_FILE: '/ca.pem' }).kafkaSecurity.caFile).toBe(
      '/ca.pem',
    );
    expect(loadConfig({ ...sasl, KAFKA_SASL_ALLOW_CLEARTEXT: 'true' }).kafkaSecurity.sasl).toEqual(
      expect.objectContaining({ mechanism: 'scram-sha-256' }),
    );
  });

  it('reads the chdb server password from the environment or a file, never both, never short', () => {
    expect(loadConfig({}).chdbServer).toEqual({ password: undefined, passwordFile: undefined });
    expect(loadConfig({ NANOBILL_CHDB_SERVER_PASSWORD: 'a'.repeat(16) }).chdbServer).toEqual({
      password: 'a'.repeat(16),
      passwordFile: undefined,
    });
    expect(
      loadConfig({ NANOBILL_CHDB_SERVER_PASSWORD_FILE: '/run/secrets/ch' }).chdbServer,
    ).toEqual({ password: undefined, passwordFile: '/run/secrets/ch' });
    expect(() =>
      loadConfig({
        NANOBILL_CHDB_SERVER_PASSWORD: 'a'.repeat(16),
        NANOBILL_CHDB_SERVER_PASSWORD_FILE: '/run/secrets/ch',
      }),
    ).toThrow('NANOBILL_CHDB_SERVER_PASSWORD');
    expect(() => loadConfig({ NANOBILL_CHDB_SERVER_PASSWORD: 'short-secret' })).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /NANOBILL_CHDB_SERVER_PASSWORD: at least 16(?![\s\S]*short-secret)/,
        ),
      }),
    );
  });

  it('never puts the SASL password in an error message', () => {
    expect(() =>
      loadConfig({ KAFKA_SASL_MECHANISM: 'nope', KAFKA_SASL_PASSWORD: 'hunter2-secret' }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });
});

describe('loadConfig: the API surface (ops port, proxies, limits, tokens)', () => {
  it('keeps the operations endpoints on loopback, on a port of their own, by default', () => {
    const config = loadConfig({});
    expect(config.ops).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(config.api).toEqual({
      trustProxy: undefined,
      ratePerAddress: 1_200,
      ratePerToken: 600,
      tokenCacheTtlMs: 10_000,
    });
    expect(config.tokens.defaultExpiryDays).toBe(90);
  });

  it('reads the trusted proxies as addresses and CIDR ranges', () => {
    const config = loadConfig({ NANOBILL_TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,fd00::/8' });
    expect(config.api.trustProxy).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  });

  it.each([
    ['NANOBILL_TRUST_PROXY', { NANOBILL_TRUST_PROXY: 'true' }],
    ['NANOBILL_TRUST_PROXY', { NANOBILL_TRUST_PROXY: 'lb.internal' }],
    ['NANOBILL_OPS_PORT', { PORT: '9000', NANOBILL_OPS_PORT: '9000' }],
    ['NANOBILL_TOKEN_CACHE_TTL_MS', { NANOBILL_TOKEN_CACHE_TTL_MS: '3600000' }],
    ['NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS', { NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS: '0' }],
    ['NANOBILL_API_RATE_PER_ADDRESS', { NANOBILL_API_RATE_PER_ADDRESS: '0' }],
  ])('names %s when it is invalid', (name, env) => {
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('allows PORT and NANOBILL_OPS_PORT both 0 (any free port each)', () => {
    expect(loadConfig({ PORT: '0', NANOBILL_OPS_PORT: '0' }).ops.port).toBe(0);
  });
});

describe('loadConfig: the finance user', () => {
  it('reads its URL and password, neither of which is needed by default', () => {
    expect(loadConfig({})).toMatchObject({
      clickhouseFinanceUrl: undefined,
      financePassword: { value: undefined, file: undefined },
    });
    const config = loadConfig({
      CLICKHOUSE_FINANCE_URL: 'http://finance:pw@ch:8123',
      NANOBILL_FINANCE_PASSWORD_FILE: '/run/secrets/finance',
    });
    expect(config.clickhouseFinanceUrl).toBe('http://finance:pw@ch:8123');
    expect(config.financePassword).toEqual({ value: undefined, file: '/run/secrets/finance' });
  });

  it.each([
    ['CLICKHOUSE_FINANCE_URL', { CLICKHOUSE_FINANCE_URL: 'not a url' }],
    ['NANOBILL_FINANCE_PASSWORD', { NANOBILL_FINANCE_PASSWORD: 'too short' }],
    [
      'NANOBILL_FINANCE_PASSWORD',
      { NANOBILL_FINANCE_PASSWORD: 'x'.repeat(20), NANOBILL_FINANCE_PASSWORD_FILE: '/f' },
    ],
  ])('names %s when it is invalid, never its value', (name, env) => {
    expect(() => loadConfig(env)).toThrow(name);
    expect(() => loadConfig(env)).not.toThrow(/too short|xxxxxxxx/);
  });
});

describe('loadConfig: webhooks and the secrets key', () => {
  it('allows public addresses only by default, and no operations secret', () => {
    const config = loadConfig({});
    expect(config.webhooks).toEqual({
      caFile: undefined,
      opsUrl: undefined,
      opsSecret: undefined,
      opsSecretFile: undefined,
      allowNetworks: [],
    });
    expect(config.secretsKey).toEqual({ key: undefined, file: undefined });
  });

  it('reads the allowed networks, the operations webhook and its secret, the secrets key', () => {
    const key = 'ab'.repeat(32);
    const config = loadConfig({
      NANOBILL_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1/32, fd00::/8',
      NANOBILL_OPS_WEBHOOK_URL: 'https://oncall.example/hook',
      NANOBILL_OPS_WEBHOOK_SECRET_FILE: '/run/secrets/ops',
      NANOBILL_SECRETS_KEY: key,
    });
    expect(config.webhooks.allowNetworks).toEqual(['127.0.0.1/32', 'fd00::/8']);
    expect(config.webhooks.opsSecretFile).toBe('/run/secrets/ops');
    expect(config.secretsKey.key).toBe(key);
  });

  it.each([
    ['NANOBILL_WEBHOOK_ALLOW_NETWORKS', { NANOBILL_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1' }],
    ['NANOBILL_WEBHOOK_ALLOW_NETWORKS', { NANOBILL_WEBHOOK_ALLOW_NETWORKS: '10.0.0.0/33' }],
    ['NANOBILL_WEBHOOK_ALLOW_NETWORKS', { NANOBILL_WEBHOOK_ALLOW_NETWORKS: 'localhost/8' }],
    ['NANOBILL_SECRETS_KEY', { NANOBILL_SECRETS_KEY: 'too-short' }],
    ['NANOBILL_OPS_WEBHOOK_SECRET', { NANOBILL_OPS_WEBHOOK_SECRET: 'short' }],
  ])('names %s when it is invalid', (name, env) => {
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('refuses the old deployment-wide secret, naming what replaced it', () => {
    expect(() => loadConfig({ NANOBILL_WEBHOOK_SECRET: 'x'.repeat(32) })).toThrow(
      /NANOBILL_WEBHOOK_SECRET: .*per-account.*NANOBILL_OPS_WEBHOOK_SECRET/,
    );
    expect(() => loadConfig({ NANOBILL_WEBHOOK_SECRET_FILE: '/run/secrets/x' })).toThrow(
      /NANOBILL_OPS_WEBHOOK_SECRET_FILE/,
    );
  });
});

describe('loadConfig: the event window', () => {
  it('defaults to 35 days back and 5 minutes ahead', () => {
    expect(loadConfig({}).eventWindow).toEqual({
      maxAgeMs: 35 * 24 * 60 * 60 * 1000,
      maxAheadMs: 5 * 60 * 1000,
    });
  });

  it('reads NANOBILL_EVENT_MAX_AGE_MS and NANOBILL_EVENT_MAX_AHEAD_MS', () => {
    const config = loadConfig({
      NANOBILL_EVENT_MAX_AGE_MS: '86400000',
      NANOBILL_EVENT_MAX_AHEAD_MS: '0',
    });
    expect(config.eventWindow).toEqual({ maxAgeMs: 86_400_000, maxAheadMs: 0 });
  });

  it.each([
    ['NANOBILL_EVENT_MAX_AGE_MS', '-1'],
    ['NANOBILL_EVENT_MAX_AGE_MS', 'a month'],
    ['NANOBILL_EVENT_MAX_AHEAD_MS', '1.5'],
    ['NANOBILL_EVENT_MAX_AHEAD_MS', String(200 * 365 * 24 * 60 * 60 * 1000)],
  ])('names %s when it is %s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

describe('loadConfig: the attribution grace', () => {
  it('defaults to 5 minutes and reads NANOBILL_ATTRIBUTION_GRACE_MS', () => {
    expect(loadConfig({}).attributionGraceMs).toBe(300_000);
    expect(loadConfig({ NANOBILL_ATTRIBUTION_GRACE_MS: '60000' }).attributionGraceMs).toBe(60_000);
    expect(loadConfig({ NANOBILL_ATTRIBUTION_GRACE_MS: '0' }).attributionGraceMs).toBe(0);
  });

  it.each(['-1', '1.5', 'soon', '86400001'])('refuses %s, naming the variable', (value) => {
    expect(() => loadConfig({ NANOBILL_ATTRIBUTION_GRACE_MS: value })).toThrow(
      'NANOBILL_ATTRIBUTION_GRACE_MS',
    );
  });
});

describe('loadConfig: the audit of the books', () => {
  it('audits every hour by default, at the interval given, or never (0)', () => {
    expect(loadConfig({}).audit).toEqual({ intervalMs: 60 * 60_000 });
    expect(loadConfig({ NANOBILL_AUDIT_INTERVAL_MS: '600000' }).audit).toEqual({
      intervalMs: 600_000,
    });
    expect(loadConfig({ NANOBILL_AUDIT_INTERVAL_MS: '0' }).audit).toEqual({ intervalMs: 0 });
  });

  it.each(['-1', 'hourly', '1.5'])('names NANOBILL_AUDIT_INTERVAL_MS when it is %s', (value) => {
    expect(() => loadConfig({ NANOBILL_AUDIT_INTERVAL_MS: value })).toThrow(
      'NANOBILL_AUDIT_INTERVAL_MS',
    );
  });
});
