import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { StatusAnswers } from '../answers.js';
import type { StatusView } from '../status-view.js';

/** Seconds a caller waits before asking again while the view catches up. */
const RETRY_AFTER_S = 5;

const Params = z.object({ id: z.string().min(1).max(256) });

/**
 * `GET /v1/accounts/{id}/status` (docs/contract.md §6), for the router: the account's latest status
 * as published on `billing.account-status.v1`, amounts as decimal strings. 404 when none was
 * published (the account has had no spend yet, which the router treats as `ok`), or when an org
 * token asks about another account. Router and finance tokens see every account.
 *
 * 503 with Retry-After until the view has read the topic up to where it was when the API started:
 * before that, a missing status may only mean "not read yet", and a 404 would let a blocked
 * account through (docs/api.md "Org admins: API and dashboard").
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
          response: StatusAnswers,
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if (!view.caughtUp) {
          return reply
            .code(503)
            .header('retry-after', String(RETRY_AFTER_S))
            .send({
              error: `account statuses not loaded yet (${view.lag} messages behind): try again`,
              status: null,
            });
        }
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
