import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../src/index.js';

const secret = 'topsecret';
const body = '{"a":1}';
// Computed once with `openssl dgst -sha256 -hmac topsecret`, so a change in encoding or prefix
// cannot go unnoticed even if node:crypto were used the same wrong way here and in the code.
const BODY_SIGNATURE = 'sha256=bf1e6501b7fa928ec2391fea9dd90af3c9ad1b7b1ef6ff319c25940cec746bf8';

describe('signBody', () => {
  it('matches a fixed vector', () => {
    expect(signBody(secret, body)).toBe(BODY_SIGNATURE);
    // RFC 4231, test case 2.
    expect(signBody('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('is lowercase hex HMAC-SHA256 of the exact bytes, strings as UTF-8', () => {
    const text = '{"amount":"0.000001","note":"café ☕"}';
    const expected = createHmac('sha256', 'k3y').update(Buffer.from(text, 'utf8')).digest('hex');
    expect(signBody('k3y', text)).toBe(`sha256=${expected}`);
    expect(signBody('k3y', new TextEncoder().encode(text))).toBe(`sha256=${expected}`);
  });

  it('refuses an empty secret', () => {
    expect(() => signBody('', body)).toThrow(RangeError);
  });
});

describe('verifySignature', () => {
  it('accepts the right signature, also as bytes or in uppercase hex', () => {
    expect(verifySignature(secret, body, BODY_SIGNATURE)).toBe(true);
    expect(verifySignature(secret, Buffer.from(body), BODY_SIGNATURE)).toBe(true);
    expect(verifySignature(secret, body, `sha256=${BODY_SIGNATURE.slice(7).toUpperCase()}`)).toBe(
      true,
    );
  });

  it('rejects another secret or a tampered body', () => {
    expect(verifySignature('topsecreT', body, BODY_SIGNATURE)).toBe(false);
    expect(verifySignature(secret, '{"a":2}', BODY_SIGNATURE)).toBe(false);
    expect(verifySignature(secret, '{"a":1} ', BODY_SIGNATURE)).toBe(false);
    expect(verifySignature(secret, '{ "a": 1 }', BODY_SIGNATURE)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['repeated', [BODY_SIGNATURE, BODY_SIGNATURE]],
    ['without prefix', BODY_SIGNATURE.slice(7)],
    ['another algorithm', `sha1=${BODY_SIGNATURE.slice(7)}`],
    ['prefix only', 'sha256='],
    ['too short', BODY_SIGNATURE.slice(0, -2)],
    ['too long', `${BODY_SIGNATURE}00`],
    ['odd length', BODY_SIGNATURE.slice(0, -1)],
    ['not hex', `${BODY_SIGNATURE.slice(0, -1)}g`],
    ['surrounded by spaces', ` ${BODY_SIGNATURE} `],
    ['base64', `sha256=${Buffer.from(BODY_SIGNATURE.slice(7), 'hex').toString('base64')}`],
  ])('returns false, without throwing, for a %s header', (_name, header) => {
    expect(verifySignature(secret, body, header)).toBe(false);
  });

  it('returns false for an empty secret, even with a signature made with it', () => {
    const forged = `sha256=${createHmac('sha256', '').update(body).digest('hex')}`;
    expect(verifySignature('', body, forged)).toBe(false);
  });

  it('holds for any secret and body', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.oneof(fc.string(), fc.uint8Array()), (key, raw) =>
        verifySignature(key, raw, signBody(key, raw)),
      ),
    );
  });

  it('fails after any single-byte change of the body', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.uint8Array({ minLength: 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (key, raw, at, delta) => {
          const header = signBody(key, raw);
          const changed = Uint8Array.from(raw);
          const index = at % changed.length;
          changed[index] = (changed[index]! + delta) % 256;
          return !verifySignature(key, changed, header);
        },
      ),
    );
  });

  it('fails after any single-character change of the signature', () => {
    fc.assert(
      fc.property(
        fc.uint8Array(),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 15 }),
        (raw, at, delta) => {
          const header = signBody(secret, raw);
          const digit = (parseInt(header[7 + at]!, 16) + delta) % 16;
          const changed = `${header.slice(0, 7 + at)}${digit.toString(16)}${header.slice(8 + at)}`;
          return !verifySignature(secret, raw, changed);
        },
      ),
    );
  });
});
