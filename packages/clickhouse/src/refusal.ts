/**
 * Why ClickHouse refused an insert because of the rows in it, as opposed to a failure of the
 * server, the network or the table (unreachable, time-outs, memory, too many parts, a missing
 * table, …) that the same rows would survive on a later attempt.
 *
 * Only a row-caused refusal may lead to a row being set aside (dead-lettered, or kept pending
 * with the reason): a valid row must never be given up because ClickHouse was unwell. So the list
 * is explicit and short: the codes ClickHouse raises while parsing, converting or checking the
 * values of an insert. Every other code, and every error without a code, is "not the rows' fault"
 * and retried as a whole, as before.
 */
export const ROW_REFUSAL_CODES: ReadonlyMap<number, string> = new Map([
  // Parsing the values (JSONCompactEachRow): a value of the wrong shape for its column.
  [6, 'CANNOT_PARSE_TEXT'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'], // e.g. a lone UTF-16 surrogate: no UTF-8 form
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'], // e.g. 1.5 for an integer column
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [72, 'CANNOT_PARSE_NUMBER'], // e.g. -1 for an unsigned column
  [130, 'CANNOT_READ_ARRAY_FROM_TEXT'],
  [377, 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING'],
  // Converting or range-checking a parsed value.
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [117, 'INCORRECT_DATA'],
  [128, 'TOO_LARGE_ARRAY_SIZE'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [407, 'DECIMAL_OVERFLOW'],
  [691, 'UNKNOWN_ELEMENT_OF_ENUM'],
  // The table's own rules on the values.
  [469, 'VIOLATED_CONSTRAINT'],
]);

/**
 * TOO_MANY_PARTS (252) covers two different failures: "Too many partitions for single INSERT
 * block" is caused by the rows (they span more partitions than `max_partitions_per_insert_block`,
 * and a smaller insert of the same rows succeeds), while "Too many parts … Merges are processing
 * significantly slower than inserts" is the server's backlog. Only the first is the rows' doing.
 */
const TOO_MANY_PARTS = 252;
const TOO_MANY_PARTITIONS = /too many partitions for single insert block/i;

/** What ClickHouse said when it refused rows: enough to fix the producer or the table. */
export interface Refusal {
  code: number;
  name: string;
  message: string;
}

/** Longest refusal message kept: it travels in a Kafka header and in a ledger reason. */
export const MAX_REFUSAL_MESSAGE_LENGTH = 1_000;

/** The refusal when `error` is ClickHouse refusing the inserted rows; undefined otherwise. */
export function rowRefusal(error: unknown): Refusal | undefined {
  const code = clickHouseCode(error);
  if (code === undefined) return undefined;
  const message = firstLine(messageOf(error));
  if (code === TOO_MANY_PARTS) {
    if (!TOO_MANY_PARTITIONS.test(message)) return undefined;
    return { code, name: 'TOO_MANY_PARTS', message };
  }
  const name = ROW_REFUSAL_CODES.get(code);
  return name === undefined ? undefined : { code, name, message };
}

/** `469 VIOLATED_CONSTRAINT: Constraint … is violated …` */
export function describeRefusal(refusal: Refusal): string {
  return `${refusal.code} ${refusal.name}: ${refusal.message}`;
}

/**
 * ClickHouse's numeric error code: `@clickhouse/client` sets `code` (a string of digits) on its
 * ClickHouseError, over HTTP and over chdb alike; the message's `Code: N.` is the fallback.
 */
export function clickHouseCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && Number.isSafeInteger(code)) return code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const match = /\bCode: (\d+)\./.exec(messageOf(error));
  return match ? Number(match[1]) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The message without the server's trailing context (row dumps), bounded. */
function firstLine(message: string): string {
  const line = message.split('\n', 1)[0]!.trim();
  return line.length > MAX_REFUSAL_MESSAGE_LENGTH
    ? `${line.slice(0, MAX_REFUSAL_MESSAGE_LENGTH)}…`
    : line;
}
