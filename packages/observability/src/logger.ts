import { pino, type Logger } from 'pino';

/** Paths that may carry a secret anywhere in a log record; pino replaces their values. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

export type { Logger };

export function createLogger(
  options: { name?: string; level?: string; destination?: 'stdout' | 'stderr' } = {},
): Logger {
  const settings = {
    name: options.name ?? 'nanobill',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // A command whose stdout is its answer logs to stderr.
  return options.destination === 'stderr' ? pino(settings, pino.destination(2)) : pino(settings);
}
