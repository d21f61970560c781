import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StatusView } from '../status-view.js';

const Params = z.object({ id: z.string().min(1).max(256) });

/**
 * `GET /v1/accounts/{id}/status` (PRODUCT.md §6), for the router: the account's latest status as
 * published on `billing.account-status.v1`, amounts as decimal strings. 404 when none was
 * published (the account has had no spend yet, which the router treats as `ok`), or when an org
 * token asks about another account. Router and finance tokens see every account.
 */
export function statusRoutes(view: StatusView): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/v1/accounts/:id/status',
      {
        schema: {
          summary: "An account's status for the router: ok, warning or blocked",
          params: Params,
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const principal = request.principal!;
        const status = principal.kind === 'org' && principal.org !== id ? undefined : view.get(id);
        if (status === undefined) {
          return reply
            .code(404)
            .send({ error: `no status published for account ${id}`, status: null });
        }
        reply.header('cache-control', 'no-store');
        return status;
      },
    );
  };
}
