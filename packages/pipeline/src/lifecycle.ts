import type { Stoppable } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';

/**
 * How long a process stopping after a fatal error may spend draining (batches in flight stored
 * and committed) before it exits anyway: a broken process must not hang half alive either.
 */
export const FATAL_DRAIN_TIMEOUT_MS = 30_000;

/**
 * Logs every unhandled rejection and uncaught exception of the process as fatal, with its
 * error; `fatal` resolves with the first. Listening to them replaces Node's default (print and
 * exit at once), so the caller must stop the process itself, as `serveUntilStopped` does.
 */
export function watchFatalErrors(logger: Logger): {
  fatal: Promise<unknown>;
  dispose(): void;
} {
  let report!: (error: unknown) => void;
  const fatal = new Promise<unknown>((resolve) => (report = resolve));
  const onRejection = (error: unknown) => {
    logger.fatal({ err: error }, 'unhandled promise rejection: the process stops');
    report(error);
  };
  const onException = (error: Error, origin: string) => {
    logger.fatal({ err: error, origin }, 'uncaught exception: the process stops');
    report(error);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    fatal,
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/**
 * Starts the services and keeps them until SIGTERM/SIGINT (exit code 0) or a fatal error: an
 * unhandled rejection or uncaught exception anywhere in the process is logged with its error,
 * the services are stopped gracefully (drained, what is durable committed) within
 * `drainTimeoutMs`, and the exit code is 1. Never silent, never half alive. A failed start
 * throws, as before.
 */
export async function serveUntilStopped(options: {
  logger: Logger;
  start(): Promise<Stoppable>;
  drainTimeoutMs?: number;
  signal?: Promise<unknown>;
}): Promise<number> {
  const { logger } = options;
  const drainTimeoutMs = options.drainTimeoutMs ?? FATAL_DRAIN_TIMEOUT_MS;
  const watch = watchFatalErrors(logger);
  const fatal = watch.fatal.then(() => 'fatal' as const);
  try {
    const starting = options.start();
    const first = await Promise.race([starting.then((services) => ({ services })), fatal]);
    if (first === 'fatal') {
      // Still starting: let it finish, then stop what started, within the same bound.
      await drain(
        starting.then((services) => services.stop()),
        drainTimeoutMs,
        logger,
      );
      return 1;
    }
    const why = await Promise.race([options.signal ?? untilSignal(), fatal]);
    logger.info({ why }, 'draining');
    if (why === 'fatal') {
      await drain(first.services.stop(), drainTimeoutMs, logger);
      return 1;
    }
    await first.services.stop();
    logger.info('stopped');
    return 0;
  } finally {
    watch.dispose();
  }
}

async function drain(stopping: Promise<void>, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    stopping.then(
      () => 'drained' as const,
      (err: unknown) => {
        logger.error({ err }, 'stopping after the fatal error failed');
        return 'failed' as const;
      },
    ),
    new Promise<'timed out'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timed out'))),
  ]);
  clearTimeout(timer);
  if (outcome === 'timed out') logger.error({ timeoutMs }, 'drain timed out; exiting anyway');
  else logger.info({ outcome }, 'stopped after a fatal error');
}

/**
 * Exits with `code` once what was written to stdout and stderr has left the process. A pipe whose
 * reader is slow holds back what does not fit in it, and `process.exit` drops that: a large
 * `nanobill statements --format json` came out cut in the middle. The callback of an empty write
 * runs after every write before it.
 */
export function exitAfterOutput(code: number): void {
  let pending = 2;
  const flushed = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}
