// The whole-pipeline bench's view of ClickHouse: every query, insert and command each connection
// of the pipeline runs, timed from the call to its answer, so that a stall of ingest during a
// pricing round can be put on what ran at the same time (`--trace-clickhouse`).
import type { ClickHouseClient } from '@nanobill/clickhouse';

/** One operation: which connection, what, whether it had parameters, when (ms since start). */
export interface TracedOperation {
  connection: string;
  kind: string;
  parameterized: boolean;
  start: number;
  end: number;
}

const TRACED = new Set(['query', 'insert', 'command', 'exec']);

/**
 * Wraps each connection the pipeline opens (`overrides.clickhouse`), naming them by the order
 * the composition root opens them in (`names`; past the list: `connection N`).
 */
export function clickhouseTracer(names: readonly string[], origin = performance.now()) {
  const operations: TracedOperation[] = [];
  let opened = 0;
  const wrap = (client: ClickHouseClient): ClickHouseClient => {
    const connection = names[opened] ?? `connection ${opened}`;
    opened += 1;
    return new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof property !== 'string' || !TRACED.has(property) || typeof value !== 'function')
          return value;
        return async (params: { query?: string; table?: string; query_params?: object }) => {
          const start = performance.now() - origin;
          try {
            return await (value as (p: unknown) => Promise<unknown>).call(target, params);
          } finally {
            operations.push({
              connection,
              kind: kindOf(property, params),
              parameterized: Object.keys(params.query_params ?? {}).length > 0,
              start,
              end: performance.now() - origin,
            });
          }
        };
      },
    });
  };
  return { wrap, operations };
}

/** `insert billing.usage`, `query SELECT … FROM billing.ledger_entries`: short enough to group by. */
function kindOf(method: string, params: { query?: string; table?: string }): string {
  if (method === 'insert') return `insert ${params.table ?? '?'}`;
  const sql = (params.query ?? '').replace(/\s+/g, ' ').trim();
  const verb = sql.split(' ')[0]?.toUpperCase() ?? '';
  const table = /\bFROM\s+([\w.]+)/i.exec(sql)?.[1] ?? /\bINTO\s+([\w.]+)/i.exec(sql)?.[1] ?? '';
  return `${method} ${verb} ${table}`.trim();
}

/** Per connection and kind: how many, total and longest seconds, in and outside `windows`. */
export function summarize(
  operations: readonly TracedOperation[],
  windows: ReadonlyArray<{ start: number; end: number }>,
) {
  const inside = (op: TracedOperation) => windows.some((w) => op.start < w.end && op.end > w.start);
  const rows = new Map<
    string,
    {
      count: number;
      seconds: number;
      maxSeconds: number;
      inRounds: number;
      inRoundsSeconds: number;
    }
  >();
  for (const op of operations) {
    const key = `${op.connection} | ${op.kind}${op.parameterized ? ' (params)' : ''}`;
    const row = rows.get(key) ?? {
      count: 0,
      seconds: 0,
      maxSeconds: 0,
      inRounds: 0,
      inRoundsSeconds: 0,
    };
    const seconds = (op.end - op.start) / 1000;
    row.count += 1;
    row.seconds += seconds;
    row.maxSeconds = Math.max(row.maxSeconds, seconds);
    if (inside(op)) {
      row.inRounds += 1;
      row.inRoundsSeconds += seconds;
    }
    rows.set(key, row);
  }
  return [...rows.entries()].sort((a, b) => b[1].seconds - a[1].seconds);
}
