import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getCACertificates } from 'node:tls';

/**
 * The largest CA file read: a handful of certificates is a few KB, and the whole public bundle
 * about 250 KB. More is the wrong file.
 */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

/** A PEM block: its type (the label after BEGIN) and the whole block. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/**
 * What a TLS client given extra CA certificates trusts: those of a connection without them
 * (Node's bundled public roots, plus the system store or NODE_EXTRA_CA_CERTS when the operator
 * turned them on) and the extra ones. A `ca` option of `tls.connect` (and of undici's `connect`)
 * replaces the default set instead of adding to it: without the defaults, a peer moving to a
 * publicly trusted certificate would be refused. So extra certificates only ever add trust, and
 * only to the connections given them.
 */
export function withDefaultCas(
  extra: string | Buffer | readonly (string | Buffer)[],
): (string | Buffer)[] {
  return [...getCACertificates('default'), ...(Array.isArray(extra) ? extra : [extra])];
}

/**
 * The PEM certificates of a CA file (text around them, such as a bundle's comments, is ignored).
 * Anything else in PEM is refused, a private key first of all: a key has no business in a file
 * handed to every client, and a key given as CA is the sign of a mix-up. Messages name the
 * problem, never the content.
 */
export function parseCaBundle(text: string): string[] {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const begun = [...text.matchAll(PEM_BEGIN)].map((m) => m[1]!);
  if (begun.some((type) => type.includes('PRIVATE KEY')))
    throw new Error('holds a private key: a CA file holds certificates only');
  if (begun.length > blocks.length) throw new Error('holds an unterminated PEM block');
  const other = blocks.map((m) => m[1]!).find((type) => type !== 'CERTIFICATE');
  if (other !== undefined) throw new Error(`holds a ${other}, not only certificates`);
  if (blocks.length === 0) throw new Error('holds no PEM certificate');
  return blocks.map(([pem], i) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new Error(`certificate ${i + 1} cannot be read`);
    }
    return pem;
  });
}

/**
 * Reads and checks a CA file (`parseCaBundle`); errors name the file and the problem.
 * `read` replaces the file system (tests map container paths to the checkout's files).
 */
export function readCaFile(
  path: string,
  read: (path: string) => Buffer = (p) => readFileSync(p),
): string[] {
  let content: Buffer;
  try {
    content = read(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}${code ? ` (${code})` : ''}`);
  }
  if (content.length > MAX_CA_FILE_BYTES)
    throw new Error(`${path} is larger than ${MAX_CA_FILE_BYTES} bytes: not a CA file`);
  try {
    return parseCaBundle(content.toString('utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
