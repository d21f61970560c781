import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ClickHouseClient, ClickHouseSettings } from '@nanobill/clickhouse';
import { requireKind } from '../auth.js';

const Query = z.strictObject({
  sql: z.string().min(1).max(20_000),
});

/**
 * Limits of one finance query: bounded rows and time, then read-only. `readonly` comes last:
 * once it is set, ClickHouse refuses to change any other setting, the query's own `SETTINGS`
 * included, so the limits cannot be lifted from the SQL.
 */
export const FINANCE_QUERY_SETTINGS: ClickHouseSettings = {
  max_result_rows: '100000',
  result_overflow_mode: 'throw',
  max_execution_time: 30,
  readonly: '1',
};

/**
 * `POST /v1/finance/query` (finance token): read-only SQL on the billing database, the HTTP
 * counterpart of `nanobill query`. The SQL is the finance user's own and runs on a connection of
 * its own under `readonly=1` (chdb keeps per-query settings on its connection).
 */
export function financeRoutes(
  clickhouse: ClickHouseClient,
  bodyLimitBytes: number,
): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', requireKind('finance'));
    app.post(
      '/v1/finance/query',
      {
        bodyLimit: bodyLimitBytes,
        schema: {
          summary: 'Read-only SQL for finance (readonly, row and time limits)',
          body: Query,
        },
      },
      async (request, reply) => {
        try {
          const result = await clickhouse.query({
            query: request.body.sql,
            format: 'JSONEachRow',
            clickhouse_settings: FINANCE_QUERY_SETTINGS,
          });
          const rows = await result.json<Record<string, unknown>>();
          return { rows, rowCount: rows.length };
        } catch (error) {
          // ClickHouse's own message (syntax, readonly, limits) is what the analyst needs.
          return reply
            .code(400)
            .send({ error: (error as Error).message.split('\n')[0], field: 'sql' });
        }
      },
    );
  };
}
