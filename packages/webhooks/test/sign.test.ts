import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOLERANCE_SECONDS, signatureHeader, verifyWebhook } from '../src/index.js';

const secret = 'topsecret';
const body = '{"a":1}';
const T = 1_700_000_000;
const AT_T = new Date(T * 1000);
// Computed once with `printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac <key>`, so a
// change in what is signed or how cannot go unnoticed even if node:crypto were misused the same
// way here and in the code.
const V1 = '6a939b0c71853d606167625a15168ee9188c6a511c773ef4f42d307f3849e50f';
const V1_PREVIOUS = '16ecf5e758695d3fa09f5585a561370f8f1f98550e31ca82313ffc335c3a8e78';
const HEADER = `t=${T},v1=${V1}`;

const verify = (options: Partial<Parameters<typeof verifyWebhook>[0]>) =>
  verifyWebhook({ header: HEADER, rawBody: body, secrets: [secret], now: AT_T, ...options });

describe('signatureHeader', () => {
  it('matches fixed vectors: t, then one v1 per secret, the one in force first', () => {
    expect(signatureHeader({ secrets: [secret], rawBody: body, timestamp: T })).toBe(HEADER);
    expect(signatureHeader({ secrets: [secret, 'previous'], rawBody: body, timestamp: T })).toBe(
      `t=${T},v1=${V1},v1=${V1_PREVIOUS}`,
    );
  });

  it('signs "<t>.<exact bytes>", strings as UTF-8', () => {
    const text = '{"amount":"0.000001","note":"café ☕"}';
    const expected = createHmac('sha256', 'k3y')
      .update(Buffer.from(`${T}.${text}`, 'utf8'))
      .digest('hex');
    const header = `t=${T},v1=${expected}`;
    expect(signatureHeader({ secrets: ['k3y'], rawBody: text, timestamp: T })).toBe(header);
    expect(
      signatureHeader({ secrets: ['k3y'], rawBody: new TextEncoder().encode(text), timestamp: T }),
    ).toBe(header);
  });

  it('refuses no secret, an empty secret, and a timestamp that is not unix seconds', () => {
    expect(() => signatureHeader({ secrets: [], rawBody: body, timestamp: T })).toThrow(RangeError);
    expect(() => signatureHeader({ secrets: [''], rawBody: body, timestamp: T })).toThrow(
      RangeError,
    );
    for (const timestamp of [-1, 1.5, Number.NaN]) {
      expect(() => signatureHeader({ secrets: [secret], rawBody: body, timestamp })).toThrow(
        RangeError,
      );
    }
  });
});

describe('verifyWebhook', () => {
  it('accepts the right signature, also over bytes, in uppercase hex or with spaces', () => {
    expect(verify({})).toBe(true);
    expect(verify({ rawBody: Buffer.from(body) })).toBe(true);
    expect(verify({ header: `t=${T},v1=${V1.toUpperCase()}` })).toBe(true);
    expect(verify({ header: `t=${T}, v1=${V1}` })).toBe(true);
    // Entries of a later scheme are ignored; the order does not matter.
    expect(verify({ header: `v2=abc,v1=${V1},t=${T}` })).toBe(true);
  });

  it('refuses another secret, a tampered body, or a tampered timestamp', () => {
    expect(verify({ secrets: ['topsecreT'] })).toBe(false);
    expect(verify({ rawBody: '{"a":2}' })).toBe(false);
    expect(verify({ rawBody: '{"a":1} ' })).toBe(false);
    expect(verify({ header: `t=${T + 1},v1=${V1}`, now: AT_T })).toBe(false);
  });

  it('refuses a replay outside the tolerance, either way, and accepts one inside', () => {
    const at = (seconds: number) => new Date((T + seconds) * 1000);
    expect(verify({ now: at(DEFAULT_TOLERANCE_SECONDS) })).toBe(true);
    expect(verify({ now: at(-DEFAULT_TOLERANCE_SECONDS) })).toBe(true);
    expect(verify({ now: at(DEFAULT_TOLERANCE_SECONDS + 1) })).toBe(false);
    expect(verify({ now: at(-DEFAULT_TOLERANCE_SECONDS - 1) })).toBe(false);
    expect(verify({ now: at(3_600), toleranceSeconds: 3_600 })).toBe(true);
    expect(verify({ now: at(1), toleranceSeconds: 0 })).toBe(false);
  });

  it('during an overlap, a receiver with either secret verifies', () => {
    const both = `t=${T},v1=${V1},v1=${V1_PREVIOUS}`;
    expect(verify({ header: both, secrets: ['previous'] })).toBe(true);
    expect(verify({ header: both, secrets: [secret] })).toBe(true);
    expect(verify({ header: both, secrets: ['unrelated', 'previous'] })).toBe(true);
    expect(verify({ header: both, secrets: ['unrelated'] })).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['repeated', [HEADER, HEADER]],
    ['the old sha256= form', `sha256=${V1}`],
    ['without a timestamp', `v1=${V1}`],
    ['without a signature', `t=${T}`],
    ['with two timestamps', `t=${T},t=${T},v1=${V1}`],
    ['with a negative timestamp', `t=-${T},v1=${V1}`],
    ['with a fractional timestamp', `t=${T}.0,v1=${V1}`],
    ['with a timestamp in milliseconds', `t=${T}000,v1=${V1}`],
    ['too short', HEADER.slice(0, -2)],
    ['too long', `${HEADER}00`],
    ['odd length', HEADER.slice(0, -1)],
    ['not hex', `${HEADER.slice(0, -1)}g`],
    ['base64', `t=${T},v1=${Buffer.from(V1, 'hex').toString('base64')}`],
    ['an entry without =', `t=${T},v1=${V1},junk`],
    ['huge', `t=${T},${'v1=0,'.repeat(1000)}v1=${V1}`],
  ])('returns false, without throwing, for a %s header', (_name, header) => {
    expect(verify({ header: header as string })).toBe(false);
  });

  it('returns false for an empty secret, even with a signature made with it', () => {
    const forged = createHmac('sha256', '').update(`${T}.${body}`).digest('hex');
    expect(verify({ header: `t=${T},v1=${forged}`, secrets: [''] })).toBe(false);
    expect(verify({ secrets: [] })).toBe(false);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), (h, b, s, t) => {
        const result = verifyWebhook({
          header: h as string,
          rawBody: b as string,
          secrets: s as string[],
          toleranceSeconds: t as number,
        });
        return typeof result === 'boolean';
      }),
    );
  });

  it('holds for any secrets, body and time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 2 }),
        fc.oneof(fc.string(), fc.uint8Array()),
        fc.integer({ min: 0, max: 2 ** 33 }), // unix seconds, to the year 2242
        (secrets, raw, timestamp) => {
          const header = signatureHeader({ secrets, rawBody: raw, timestamp });
          const now = new Date(timestamp * 1000);
          return secrets.every((one) =>
            verifyWebhook({ header, rawBody: raw, secrets: [one], now }),
          );
        },
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
          const header = signatureHeader({ secrets: [key], rawBody: raw, timestamp: T });
          const changed = Uint8Array.from(raw);
          const index = at % changed.length;
          changed[index] = (changed[index]! + delta) % 256;
          return !verifyWebhook({ header, rawBody: changed, secrets: [key], now: AT_T });
        },
      ),
    );
  });

  it('fails with any other timestamp, even within the tolerance', () => {
    fc.assert(
      fc.property(
        fc.uint8Array(),
        fc.integer({ min: -DEFAULT_TOLERANCE_SECONDS, max: DEFAULT_TOLERANCE_SECONDS }),
        (raw, shift) => {
          fc.pre(shift !== 0);
          const header = signatureHeader({ secrets: [secret], rawBody: raw, timestamp: T });
          const moved = header.replace(`t=${T}`, `t=${T + shift}`);
          return !verifyWebhook({ header: moved, rawBody: raw, secrets: [secret], now: AT_T });
        },
      ),
    );
  });

  it('fails with any other secret', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        // HMAC pads short keys with zero bytes: 'a' and 'a\0' are the same key by design.
        fc.pre(a.replace(/\0+$/, '') !== b.replace(/\0+$/, ''));
        const header = signatureHeader({ secrets: [a], rawBody: body, timestamp: T });
        return !verifyWebhook({ header, rawBody: body, secrets: [b], now: AT_T });
      }),
    );
  });

  it('fails after any single-character change of the signature', () => {
    fc.assert(
      fc.property(
        fc.uint8Array(),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 15 }),
        (raw, at, delta) => {
          const header = signatureHeader({ secrets: [secret], rawBody: raw, timestamp: T });
          const start = header.indexOf('v1=') + 3;
          const digit = (parseInt(header[start + at]!, 16) + delta) % 16;
          const changed = `${header.slice(0, start + at)}${digit.toString(16)}${header.slice(start + at + 1)}`;
          return !verifyWebhook({ header: changed, rawBody: raw, secrets: [secret], now: AT_T });
        },
      ),
    );
  });
});
