import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FINANCE_SQL_MAX_LENGTH, FinanceSqlRefused, type FinanceSql } from '@nanobill/clickhouse';
import { FinanceAnswers } from '../answers.js';
import { requireKind } from '../auth.js';

const Query = z.strictObject({
  sql: z.string().min(1).max(FINANCE_SQL_MAX_LENGTH),
});

/**
 * `POST /v1/finance/query` (finance token): finance SQL (see FinanceSql: one SELECT on the
 * finance objects of `billing`, checked by ClickHouse's parser against an allowlist, with row,
 * byte, memory and time limits, read-only), the HTTP counterpart of `nanobill query`.
 *
 * The answer `{ "rows": [...], "rowCount": N }` is streamed row by row. A refusal, or a failure
 * before the first row, is a 400 `{ error, field: "sql" }`. If ClickHouse fails after rows were
 * sent (a limit reached mid-way, a server dropping the query), the status is already 200: the
 * JSON still closes, with the rows sent so far and `"error": "<reason>"` after `rowCount`; a
 * client must treat an answer with `error` as incomplete.
 */
export function financeRoutes(
  finance: Pick<FinanceSql, 'rows'>,
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
          summary: 'Finance SQL: one SELECT on billing data (allowlist, readonly, limits)',
          body: Query,
          response: FinanceAnswers,
        },
      },
      async (request, reply) => {
        let batches: AsyncIterator<string[]>;
        let first: IteratorResult<string[]>;
        try {
          batches = (await finance.rows(request.body.sql))[Symbol.asyncIterator]();
          first = await batches.next();
        } catch (error) {
          // The reason (what was refused; ClickHouse's syntax, limit or readonly message) is
          // what the analyst needs. Anything else (no connection, a misconfigured one) is ours
          // to fix: a 500 without internals.
          if (!(error instanceof FinanceSqlRefused) && !isClickHouseError(error)) throw error;
          return reply.code(400).send({ error: firstLine(error), field: 'sql' });
        }
        return (
          reply
            .type('application/json; charset=utf-8')
            // A stream is sent as it is (never through the serializer): FinanceAnswers[200]
            // describes what it writes.
            .send(Readable.from(jsonRows(first, batches)) as never)
        );
      },
    );
  };
}

/** `{"rows":[…],"rowCount":N}` from ClickHouse's JSONEachRow lines, without parsing them. */
export async function* jsonRows(
  first: IteratorResult<string[]>,
  batches: AsyncIterator<string[]>,
): AsyncGenerator<string> {
  yield '{"rows":[';
  let count = 0;
  let error: string | undefined;
  try {
    for (let batch = first; !batch.done; batch = await batches.next()) {
      yield (count === 0 ? '' : ',') + batch.value.join(',');
      count += batch.value.length;
    }
  } catch (failure) {
    error = firstLine(failure);
  }
  yield `],"rowCount":${count}${error === undefined ? '' : `,"error":${JSON.stringify(error)}`}}`;
}

/** ClickHouse's errors carry its numeric code (syntax, unknown column, limits, readonly). */
function isClickHouseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^\d+$/.test(code);
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!.trim();
}
