import type { FastifyReply, FastifyRequest } from 'fastify';
import { TokenLookupsBusy } from './token-cache.js';
import type { Principal, TokenKind, TokenStore } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Longer Authorization headers are refused unread (a token is 60 characters). */
const MAX_AUTHORIZATION_LENGTH = 128;
/** When a client refused for busy lookups may try again. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/** The bearer token of the request (the scheme is case-insensitive, RFC 9110 §11.1). */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const match = /^Bearer (\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * 401 unless the request carries a valid token (unknown, expired, revoked and malformed alike);
 * 503 with Retry-After when too many uncached tokens are being looked up at once.
 */
export function authenticate(tokens: Pick<TokenStore, 'verify'>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(request);
    let principal: Principal | undefined;
    try {
      principal = token === undefined ? undefined : await tokens.verify(token);
    } catch (error) {
      if (!(error instanceof TokenLookupsBusy)) throw error;
      request.log.warn('token lookups busy: request refused with 503');
      return reply
        .code(503)
        .header('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
        .send({ error: 'busy: retry shortly' });
    }
    if (principal === undefined) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'a valid bearer token is required' });
    }
    request.principal = principal;
  };
}

/**
 * Org routes: only that org's token. Any other token gets the same 404 as an org that does not
 * exist, so a token reveals nothing about other orgs.
 */
export async function requireOrg(request: FastifyRequest, reply: FastifyReply) {
  const { org } = request.params as { org: string };
  const principal = request.principal;
  if (principal?.kind !== 'org' || principal.org !== org) {
    return reply.code(404).send({ error: 'not found' });
  }
}

export function requireKind(...kinds: TokenKind[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.principal === undefined || !kinds.includes(request.principal.kind)) {
      return reply.code(403).send({ error: `this route needs a ${kinds.join(' or ')} token` });
    }
  };
}
