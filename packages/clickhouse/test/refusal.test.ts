import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ClickHouseError } from '@clickhouse/client';
import {
  MAX_REFUSAL_MESSAGE_LENGTH,
  ROW_REFUSAL_CODES,
  clickHouseCode,
  describeRefusal,
  rowRefusal,
} from '../src/index.js';

/** An error as @clickhouse/client raises it (over HTTP and over chdb alike). */
const chError = (code: number, type: string, message: string) =>
  new ClickHouseError({ message, code: String(code), type });

describe('rowRefusal: is an insert error the rows fault?', () => {
  it.each([
    [469, 'VIOLATED_CONSTRAINT', 'Constraint `c` for table billing.usage is violated at row 1.'],
    [
      25,
      'CANNOT_PARSE_ESCAPE_SEQUENCE',
      'Cannot parse escape sequence: missing second part of surrogate pair.',
    ],
    [
      72,
      'CANNOT_PARSE_NUMBER',
      "Unsigned type must not contain '-' symbol: (while reading the value of key status)",
    ],
    [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', "Cannot parse input: expected ',' before: '.5'"],
    [691, 'UNKNOWN_ELEMENT_OF_ENUM', "Unknown element 'x' for enum"],
    [
      252,
      'TOO_MANY_PARTS',
      "Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting.",
    ],
  ])('code %i (%s) is caused by the rows', (code, type, message) => {
    expect(rowRefusal(chError(code, type, message))).toEqual({ code, name: type, message });
  });

  it.each([
    [
      252,
      'TOO_MANY_PARTS',
      'Too many parts (2 with average size of 453.00 B) in table. Merges are processing significantly slower than inserts.',
    ],
    [241, 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (total) exceeded'],
    [159, 'TIMEOUT_EXCEEDED', 'Timeout exceeded: elapsed 30 seconds'],
    [209, 'SOCKET_TIMEOUT', 'Timeout exceeded while reading from socket'],
    [60, 'UNKNOWN_TABLE', "Target table 'billing.sink' of view doesn't exist"],
    [242, 'TABLE_IS_READ_ONLY', 'Table is in readonly mode'],
    [243, 'NOT_ENOUGH_SPACE', 'Cannot reserve 1.00 MiB, not enough space'],
    [16, 'NO_SUCH_COLUMN_IN_TABLE', 'No such column alert_id in table billing.unpriced_entries'],
    [62, 'SYNTAX_ERROR', 'Syntax error'],
    [999, 'KEEPER_EXCEPTION', 'Coordination error: Connection loss'],
    [319, 'UNKNOWN_STATUS_OF_INSERT', 'Unknown status, client must retry'],
  ])('code %i (%s) is not: the same rows are retried', (code, type, message) => {
    expect(rowRefusal(chError(code, type, message))).toBeUndefined();
  });

  it('errors without a ClickHouse code (network, client) are never the rows fault', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), {
      code: 'ECONNREFUSED',
    });
    expect(rowRefusal(refused)).toBeUndefined();
    expect(rowRefusal(new Error('socket hang up'))).toBeUndefined();
    expect(rowRefusal('a string')).toBeUndefined();
    expect(rowRefusal(undefined)).toBeUndefined();
    expect(rowRefusal(null)).toBeUndefined();
  });

  it('reads the code from the message when the error carries none (chdb native errors)', () => {
    const native = new Error(
      'Code: 469. DB::Exception: Constraint `c` is violated. (VIOLATED_CONSTRAINT)',
    );
    expect(clickHouseCode(native)).toBe(469);
    expect(rowRefusal(native)?.name).toBe('VIOLATED_CONSTRAINT');
  });

  it('keeps the first line of the message, bounded', () => {
    const long = chError(72, 'CANNOT_PARSE_NUMBER', `${'x'.repeat(5_000)}\nRow 1:\nColumn 0, …`);
    const refusal = rowRefusal(long)!;
    expect(refusal.message.length).toBe(MAX_REFUSAL_MESSAGE_LENGTH + 1);
    expect(refusal.message).not.toContain('Row 1');
    expect(describeRefusal(refusal)).toMatch(/^72 CANNOT_PARSE_NUMBER: x+…$/);
  });

  it('exactly the listed codes are row refusals, whatever the message (252 aside)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_100 }), fc.string(), (code, message) => {
        const refusal = rowRefusal(chError(code, 'ANY', message));
        if (code === 252) return true; // decided by the message, above
        return (refusal !== undefined) === ROW_REFUSAL_CODES.has(code);
      }),
    );
  });
});
