import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

/** An input problem found after schema validation (e.g. a window too long); answered 400. */
export class BadInput extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Input problems are 400 with the field named (`{ error, field }`); anything else is logged and
 * answered without internals.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issue = error.validation[0]!;
      const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
      // An unknown key has no path of its own: name the key.
      const keys = (issue.params as { keys?: unknown }).keys;
      const unknownKey = Array.isArray(keys) ? String(keys[0]) : '';
      const field = path || unknownKey || error.validationContext || 'input';
      return reply.code(400).send({ error: `${field}: ${issue.message}`, field });
    }
    if (error instanceof BadInput) {
      return reply
        .code(400)
        .send({ error: `${error.field}: ${error.message}`, field: error.field });
    }
    if (error.statusCode !== undefined && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
}
