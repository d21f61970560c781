import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '@nanobill/testkit';
import { kafkaSecurityOptions } from '../src/kafka-security.js';

describe('kafkaSecurityOptions', () => {
  it('adds nothing for a plain broker', () => {
    expect(kafkaSecurityOptions({ ssl: false, caFile: undefined, sasl: undefined })).toEqual({});
  });

  it('reads the CA and the SASL password from their files', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'ca.pem'),
      '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
    );
    writeFileSync(join(dir, 'password'), 's3cret\n');
    expect(
      kafkaSecurityOptions({
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
      ssl: { ca: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n' },
      sasl: { mechanism: 'scram-sha-256', username: 'nanobill', password: 's3cret' },
    });
  });

  it('uses TLS with the public CAs when no CA file is given', () => {
    expect(kafkaSecurityOptions({ ssl: true, caFile: undefined, sasl: undefined })).toEqual({
      ssl: true,
    });
  });
});
