import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { badRequest, RefusedRequest, shown } from './errors.js';

export interface BodyLimits {
  /** Bytes a request body may have as sent (compressed or not). */
  maxBodyBytes: number;
  /** Bytes a gzip body may inflate to. */
  maxInflatedBodyBytes: number;
}

/**
 * Inserts of a few hundred thousand rows arrive as one body (nanobill's clients never compress).
 * The engine takes a statement whole, so a body is held in memory: this bounds what one request
 * can make the server hold.
 */
export const MAX_BODY_BYTES = 1024 * 1024 * 1024;
/**
 * A compressed body is the one way a small request can make the server hold much more than was
 * sent (a gzip bomb inflates a thousandfold). Clients that compress send ordinary requests, far
 * below this; inflating stops here, so the memory a bomb costs is this, not its payload.
 */
export const MAX_INFLATED_BODY_BYTES = 128 * 1024 * 1024;

const tooLarge = (what: string, limit: number) =>
  new RefusedRequest(
    413,
    'QUERY_IS_TOO_LARGE',
    `The request body ${what} more than ${limit} bytes, the limit of this server`,
  );

/** `identity` or `gzip`: what ClickHouse clients send; anything else is refused by name. */
function bodyEncoding(contentEncoding: string | undefined): 'identity' | 'gzip' {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return 'identity';
  if (encoding === 'gzip') return 'gzip';
  throw badRequest(
    'UNKNOWN_COMPRESSION_METHOD',
    `Unsupported Content-Encoding ${shown(contentEncoding ?? '')} (gzip and identity are)`,
  );
}

/**
 * The request body, inflated as it arrives when gzipped: the compressed bytes are never held, and
 * inflating stops at the limit. On a refusal the rest of the body is read and dropped, so the
 * answer reaches the client and the connection stays usable.
 */
export function readBody(
  source: Readable,
  headers: { contentEncoding: string | undefined; contentLength: string | undefined },
  limits: BodyLimits,
): Promise<Buffer> {
  const encoding = bodyEncoding(headers.contentEncoding);
  if (Number(headers.contentLength ?? 0) > limits.maxBodyBytes) {
    throw tooLarge('is', limits.maxBodyBytes);
  }
  const inflate = encoding === 'gzip' ? createGunzip() : undefined;
  const maxKept = inflate ? limits.maxInflatedBodyBytes : limits.maxBodyBytes;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let kept = 0;
    let settled = false;
    let ended = false;

    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      source.off('data', onData);
      inflate?.destroy();
      source.resume();
      reject(error);
    };
    const keep = (chunk: Buffer) => {
      kept += chunk.length;
      if (kept > maxKept) {
        fail(tooLarge(inflate ? 'inflates to' : 'is', maxKept));
        return;
      }
      chunks.push(chunk);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, kept));
    };
    function onData(chunk: Buffer) {
      received += chunk.length;
      if (received > limits.maxBodyBytes) {
        fail(tooLarge('is', limits.maxBodyBytes));
        return;
      }
      if (!inflate) {
        keep(chunk);
        return;
      }
      // Backpressure: the socket waits while zlib catches up, so nothing piles up compressed.
      if (!inflate.write(chunk)) {
        source.pause();
        inflate.once('drain', () => settled || source.resume());
      }
    }

    source.on('data', onData);
    source.once('error', fail);
    source.once('close', () => ended || fail(new Error('the client went away while sending')));
    source.once('end', () => {
      ended = true;
      if (!inflate) finish();
      else if (!settled) inflate.end();
    });
    if (inflate) {
      inflate.on('data', keep);
      inflate.once('end', finish);
      inflate.once('error', (error) =>
        fail(
          badRequest('CANNOT_DECOMPRESS', `Cannot inflate the gzip request body: ${error.message}`),
        ),
      );
    }
  });
}
