import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MAX_CA_FILE_BYTES, parseCaBundle, readCaFile, withDefaultCas } from '../src/index.js';

// Two real certificates, from Node's bundle: parsing must not depend on where they come from.
const [FIRST, SECOND] = rootCertificates as [string, string];
const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const KEY_BODY = KEY.split('\n')[1]!;

describe('withDefaultCas', () => {
  it('adds the extra certificates to the ones a connection trusts by default, replacing none', () => {
    const ca = withDefaultCas(FIRST);
    expect(ca).toEqual([...getCACertificates('default'), FIRST]);
    expect(ca).toEqual(expect.arrayContaining([...rootCertificates]));
    expect(withDefaultCas([FIRST, SECOND]).slice(-2)).toEqual([FIRST, SECOND]);
  });
});

describe('parseCaBundle', () => {
  it('returns each certificate of a bundle, ignoring the text around them', () => {
    const bundle = `# Issuer: the first\n${FIRST}\n\nsome comment\n${SECOND}\n`;
    expect(parseCaBundle(bundle)).toEqual([FIRST.trim(), SECOND.trim()]);
  });

  it.each([
    ['an empty file', '', /no PEM certificate/],
    ['text only', 'not a certificate at all', /no PEM certificate/],
    ['a DER file read as text', '0\x82\x03\x1a0\x82\x02', /no PEM certificate/],
    [
      'a certificate block that does not parse',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /certificate 1 cannot be read/,
    ],
    [
      'an unterminated block',
      FIRST.replace('-----END CERTIFICATE-----', ''),
      /unterminated|no PEM certificate/,
    ],
    [
      'another kind of PEM block',
      `${FIRST}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n`,
      /X509 CRL/,
    ],
  ])('refuses %s', (_what, text, reason) => {
    expect(() => parseCaBundle(text)).toThrow(reason);
  });

  it.each([
    ['a key alone', KEY],
    ['a key beside the certificate', `${FIRST}\n${KEY}`],
    ['an EC key', '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n'],
    [
      'an encrypted key',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA\n-----END ENCRYPTED PRIVATE KEY-----',
    ],
  ])('refuses a private key (%s), without quoting it', (_what, text) => {
    let message = '';
    try {
      parseCaBundle(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/private key/);
    expect(message).not.toContain(KEY_BODY);
    expect(message).not.toContain('AAAA');
  });
});

describe('readCaFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanobill-tls-'));
  const file = (name: string, content: string | Buffer) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };

  it('reads the certificates of a file', () => {
    expect(readCaFile(file('ca.pem', FIRST))).toEqual([FIRST.trim()]);
  });

  it('names the file and the problem, never its content', () => {
    expect(() => readCaFile(join(dir, 'missing.pem'))).toThrow(
      `cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
    );
    expect(() => readCaFile(dir)).toThrow(/cannot read .* \(EISDIR\)/);
    expect(() => readCaFile(file('key.pem', KEY))).toThrow(
      new RegExp(`${join(dir, 'key.pem')}: .*private key`),
    );
    expect(() => readCaFile(file('key.pem', KEY))).not.toThrow(KEY_BODY);
  });

  it(`refuses a file above ${MAX_CA_FILE_BYTES} bytes`, () => {
    const huge = file('huge.pem', `${FIRST}\n${'#'.repeat(MAX_CA_FILE_BYTES)}`);
    expect(() => readCaFile(huge)).toThrow(/larger than/);
  });

  it('reads through the given reader (a container path mapped to a checkout file)', () => {
    const seen: string[] = [];
    const certs = readCaFile('/run/secrets/ca', (path) => {
      seen.push(path);
      return Buffer.from(SECOND);
    });
    expect(certs).toEqual([SECOND.trim()]);
    expect(seen).toEqual(['/run/secrets/ca']);
  });
});
