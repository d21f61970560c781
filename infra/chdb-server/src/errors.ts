/**
 * ClickHouse's error codes for what this server refuses itself (names and numbers as in
 * ClickHouse's ErrorCodes), so that `@clickhouse/client` raises a ClickHouseError with `code` and
 * `type` as it does against a server.
 */
export const ErrorCode = {
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  SYNTAX_ERROR: 62,
  UNKNOWN_COMPRESSION_METHOD: 89,
  READONLY: 164,
  QUERY_IS_TOO_LARGE: 229,
  CANNOT_DECOMPRESS: 271,
  ACCESS_DENIED: 497,
  AUTHENTICATION_FAILED: 516,
} as const;

export type ErrorName = keyof typeof ErrorCode;

/** A request refused before the engine runs it, answered the way a ClickHouse server does. */
export class RefusedRequest extends Error {
  readonly code: number;

  constructor(
    readonly status: number,
    readonly type: ErrorName,
    message: string,
  ) {
    super(message);
    this.code = ErrorCode[type];
  }

  /** The body ClickHouse sends: `Code: N. DB::Exception: message. (TYPE)`. */
  get body(): string {
    return `Code: ${this.code}. DB::Exception: ${this.message}. (${this.type})\n`;
  }
}

/** A value a client sent, quoted and cut short, for a message: never a way to echo much back. */
export function shown(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/** A request the engine refuses before running anything (HTTP 400). */
export const badRequest = (type: ErrorName, message: string) =>
  new RefusedRequest(400, type, message);
