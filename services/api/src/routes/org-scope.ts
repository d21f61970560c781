import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireOrg } from '../auth.js';

/** The `{org}` of an org admin's route: an account id. */
export const OrgParams = z.object({ org: z.string().min(1).max(256) });

/**
 * The routes then registered on `plain` are an org admin's (docs/contract.md §8): zod-typed, and
 * answered only to that org's token (any other gets 404, as for an org that does not exist).
 */
export function orgScoped(plain: FastifyInstance) {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.addHook('preHandler', requireOrg);
  return app;
}
