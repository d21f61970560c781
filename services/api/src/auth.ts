import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, TokenKind, TokenStore } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer (\S+)$/.exec(header);
  return match?.[1];
}

/** 401 unless the request carries a valid token (unknown, expired, revoked and malformed alike). */
export function authenticate(tokens: TokenStore) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(request);
    const principal = token === undefined ? undefined : await tokens.verify(token);
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
