import { resolve } from 'node:path';
import { startBroker, stopBroker } from '@nanobill/kafka-broker';

// Integration tests need the real broker: use KAFKA_BROKERS when given, otherwise start the
// project's local one (a no-op when it already runs, as in CI) and stop it after the run only
// if this run started it.
let startedHere = false;
const options = { dataDir: resolve(process.env.NANOBILL_DATA_DIR ?? '.data') };

export async function setup(): Promise<void> {
  if (process.env.KAFKA_BROKERS) return;
  const broker = await startBroker(options);
  startedHere = !broker.alreadyRunning;
  process.env.KAFKA_BROKERS = broker.brokers.join(',');
}

export async function teardown(): Promise<void> {
  if (startedHere) await stopBroker(options);
}
