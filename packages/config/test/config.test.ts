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
