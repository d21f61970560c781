/**
 * tsx infra/chdb-server/src/cli.ts [--port 8123] [--host 127.0.0.1] [--allow-host NAME …]
 *
 * Serves the ClickHouse data under NANOBILL_DATA_DIR (default ./.data) over ClickHouse's HTTP
 * interface until SIGTERM, so `nanobill run --only …` processes can share it via CLICKHOUSE_URL.
 * Clients authenticate as user `default` with the password from NANOBILL_CHDB_SERVER_PASSWORD(_FILE)
 * or, neither set, the one generated into `<data dir>/chdb-server-password`; it is never printed.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@nanobill/config';
import { createLogger } from '@nanobill/observability';
import { startChdbServer } from './server.js';
import { serverPassword } from './password.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8123' },
    host: { type: 'string', default: '127.0.0.1' },
    // Host names clients use when the server listens beyond loopback (repeatable).
    'allow-host': { type: 'string', multiple: true, default: [] },
  },
});
const config = loadConfig();
const logger = createLogger();
const { password, from } = serverPassword({ ...config.chdbServer, dataDir: config.dataDir });
const server = await startChdbServer({
  dataDir: config.dataDir,
  port: Number(values.port),
  host: values.host,
  allowedHosts: values['allow-host'],
  password,
  logger,
});
logger.info({ url: server.url, user: server.user, passwordFrom: from }, 'chdb server listening');
console.log(`chdb-server: listening on ${server.url} (user ${server.user}, password in ${from})`);
const clientUrl = new URL(server.url);
clientUrl.username = server.user;
console.log(
  `chdb-server: clients use CLICKHOUSE_URL=${clientUrl.protocol}//${server.user}:<password>@${clientUrl.host}`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
