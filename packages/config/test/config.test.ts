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
