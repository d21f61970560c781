import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type KafkaSecurity } from '@nanobill/config';
import { quietLogger, tempDir } from '@nanobill/testkit';
import { kafkaFromConfig, kafkaSecurityOptions } from '../src/index.js';

const PLAIN: KafkaSecurity = {
  ssl: false,
  caFile: undefined,
  sasl: undefined,
  allowCleartext: false,
};
const PEM = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n';

describe('kafkaSecurityOptions', () => {
  it('adds nothing for a plain broker', () => {
    expect(kafkaSecurityOptions(PLAIN)).toEqual({});
  });

  it('reads the CA and the SASL password from their files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.pem'), PEM);
    writeFileSync(join(dir, 'password'), 's3cret\n');
    expect(
      kafkaSecurityOptions({
        ...PLAIN,
        ssl: true,
        caFile: join(dir, 'ca.pem'),
        sasl: {
          mechanism: 'scram-sha-256',
          username: 'nanobill',
          password: undefined,
          passwordFile: join(dir, 'password'),
        },
      }),
    ).toEqual({
      ssl: { ca: PEM },
      sasl: { mechanism: 'scram-sha-256', username: 'nanobill', password: 's3cret' },
    });
  });

  it('uses TLS with the public CAs when no CA file is given', () => {
    expect(kafkaSecurityOptions({ ...PLAIN, ssl: true })).toEqual({ ssl: true });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    'passes the SASL mechanism %s with the password from the environment',
    (mechanism) => {
      const config = loadConfig({
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: 'nanobill',
        KAFKA_SASL_PASSWORD: 'p',
      });
      expect(kafkaSecurityOptions(config.kafkaSecurity)).toEqual({
        ssl: true,
        sasl: { mechanism, username: 'nanobill', password: 'p' },
      });
    },
  );

  const saslInClear: KafkaSecurity = {
    ...PLAIN,
    sasl: { mechanism: 'plain', username: 'u', password: 'p', passwordFile: undefined },
  };

  it('refuses SASL without TLS, even from a configuration not built by loadConfig', () => {
    expect(() => kafkaSecurityOptions(saslInClear)).toThrow(/SASL without TLS/);
    expect(() =>
      kafkaFromConfig(
        { kafkaBrokers: ['127.0.0.1:1'], localKafkaPort: 9092, kafkaSecurity: saslInClear },
        { clientId: 'test', logger: quietLogger() },
      ),
    ).toThrow(/KAFKA_SASL_ALLOW_CLEARTEXT/);
  });

  it('sends SASL in clear when KAFKA_SASL_ALLOW_CLEARTEXT says so', () => {
    expect(kafkaSecurityOptions({ ...saslInClear, allowCleartext: true })).toEqual({
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
  });
});
