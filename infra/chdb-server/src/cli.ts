/**
 * tsx infra/chdb-server/src/cli.ts [--port 8123] [--host 127.0.0.1]
 *
 * Serves the ClickHouse data under NANOBILL_DATA_DIR (default ./.data) over ClickHouse's HTTP
 * interface until SIGTERM, so `nanobill run --only …` processes can share it via CLICKHOUSE_URL.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@nanobill/observability';
import { startChdbServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8123' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const logger = createLogger();
const server = await startChdbServer({
  dataDir: resolve(process.env.NANOBILL_DATA_DIR ?? './.data'),
  port: Number(values.port),
  host: values.host,
  logger,
});
logger.info({ url: server.url }, 'chdb server listening');
console.log(`chdb-server: listening on ${server.url}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
