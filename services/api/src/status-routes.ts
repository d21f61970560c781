import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { StatusView } from './status-view.js';

const Params = z.object({ id: z.string().min(1).max(256) });

/**
 * `GET /v1/accounts/{id}/status` (PRODUCT.md §6), for the router: the account's latest status as
 * published on `billing.account-status.v1`, amounts as decimal strings. 404 when none was
 * published: the account has had no spend since nanobill started tracking it, which the router
 * treats as `ok`.
 */
export function statusRoutes(view: StatusView): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/accounts/:id/status', async (request, reply) => {
      const params = Params.safeParse(request.params);
      if (!params.success) {
        return reply.code(400).send({ error: 'id must be 1 to 256 characters', field: 'id' });
      }
      const status = view.get(params.data.id);
      if (status === undefined) {
        return reply
          .code(404)
          .send({ error: `no status published for account ${params.data.id}`, status: null });
      }
      reply.header('cache-control', 'no-store');
      return status;
    });
  };
}
