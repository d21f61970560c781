/**
 * tsx infra/kafka/src/cli.ts start|stop|status|reset|fetch
 *
 * Env: NANOBILL_DATA_DIR (default ./.data, against cwd), KAFKA_PORT (default 9092),
 * KAFKA_BROKERS (when set, an external broker is used and `start` does nothing).
 */
import { resolve } from 'node:path';
import {
  brokerStatus,
  fetchBrokerJars,
  resetBroker,
  startBroker,
  stopBroker,
  type BrokerOptions,
  type LauncherLogger,
} from './launcher.js';

const EXIT_NOT_RUNNING = 3;
const USAGE = 'usage: tsx infra/kafka/src/cli.ts start|stop|status|reset|fetch';

// Only warnings: a command prints one line, but a slow SIGKILL fallback should not be silent.
const logger: LauncherLogger = {
  info: () => {},
  warn: (obj, msg) => console.error(`kafka: ${msg ?? (typeof obj === 'string' ? obj : '')}`),
};

function options(): BrokerOptions {
  const port = Number(process.env.KAFKA_PORT ?? 9092);
  if (!Number.isInteger(port) || port <= 0 || port > 65534) {
    throw new Error(`KAFKA_PORT must be a port number, got ${process.env.KAFKA_PORT}`);
  }
  return { dataDir: resolve(process.env.NANOBILL_DATA_DIR ?? './.data'), port, logger };
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'start': {
      if (process.env.KAFKA_BROKERS) {
        console.log(
          `kafka: external broker configured (KAFKA_BROKERS=${process.env.KAFKA_BROKERS}); nothing to start`,
        );
        return 0;
      }
      const r = await startBroker(options());
      const where = `${r.brokers.join(',')} (pid ${r.pid})`;
      console.log(
        r.alreadyRunning ? `kafka: already running on ${where}` : `kafka: started on ${where}`,
      );
      return 0;
    }
    case 'stop':
      console.log((await stopBroker(options())) ? 'kafka: stopped' : 'kafka: not running');
      return 0;
    case 'status': {
      const s = await brokerStatus(options());
      if (!s.running) {
        console.log('kafka: not running');
        return EXIT_NOT_RUNNING;
      }
      const health = s.acceptsClients ? 'accepts clients' : 'not accepting clients yet';
      console.log(`kafka: running on ${s.brokers.join(',')} (pid ${s.pid}, ${health})`);
      return 0;
    }
    case 'reset': {
      const opts = options();
      await resetBroker(opts);
      console.log(`kafka: reset (deleted ${resolve(opts.dataDir, 'kafka')})`);
      return 0;
    }
    case 'fetch':
      await fetchBrokerJars(logger);
      console.log('kafka: broker jars ready');
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`kafka: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
