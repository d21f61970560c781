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
    expect(config.kafkaSecurity).toEqual({ ssl: false, caFile: undefined, sasl: undefined });
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

  it('never puts the SASL password in an error message', () => {
    expect(() =>
      loadConfig({ KAFKA_SASL_MECHANISM: 'nope', KAFKA_SASL_PASSWORD: 'hunter2-secret' }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
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
