import { parseArgs } from 'node:util';
import { loadConfig } from '@nanobill/config';
import { createLogger } from '@nanobill/observability';
import { audit } from './audit-command.js';
import { demo } from './demo.js';
import { dlq } from './dlq-command.js';
import { migrate } from './migrate-command.js';
import { query } from './query-command.js';
import { simulate } from './simulate-command.js';
import { statements } from './statements-command.js';
import { tokens } from './tokens-command.js';
import { webhooks } from './webhooks-command.js';
import {
  SERVICES,
  exitAfterOutput,
  serveUntilStopped,
  startPipeline,
  type ServiceName,
} from '@nanobill/pipeline';

const USAGE = `usage: nanobill <command> [options]

  run [--only ingest,accounts,pricing,statements,enforcement,alerts,api]
                              the pipeline services in one process (SIGTERM drains and exits;
                              an unhandled error is logged as fatal, drains and exits 1)
  migrate [--finance-user NAME]
                              apply ClickHouse migrations (run once before services started with --only);
                              on a server, also the read-only finance user (password: NANOBILL_FINANCE_PASSWORD[_FILE])
  demo [--rate N] [--for S]   local broker + pipeline + router simulator, until Ctrl-C (or S seconds)
  query "<SQL>" [--format F]  finance SQL: one SELECT on billing data, read-only (F: a ClickHouse format)
  statements --month YYYY-MM [--account ID] [--format csv|json|table]
                              monthly statements, money in exact USD
  audit [--month YYYY-MM] [--format table|json]
                              the books checked (usage, duplicates, statements, enforcement,
                              alerts); exit code 1 on any violation
  tokens create (--org ORG | --finance | --router) [--expires-in DAYS | --no-expiry]
                              an API token, shown once, 90 days by default (tokens revoke ID revokes one)
  webhooks rotate-secret --account ID [--overlap-hours H]
                              a new webhook signing secret for the account, shown once
  dlq replay [--topic T] [--limit N] [--dry-run] [--code CODE]
                              re-produce dead-lettered messages to their source topic, once each
  simulate providers|router   the provider simulator (HTTP) or the router simulator (to Kafka), until SIGTERM

configuration: KAFKA_BROKERS, CLICKHOUSE_URL, NANOBILL_DATA_DIR, PORT, NANOBILL_OPS_PORT (see docs/operations.md)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest);
    case 'demo':
      return demo(rest);
    case 'migrate':
      return migrate(rest);
    case 'query':
      return query(rest);
    case 'statements':
      return statements(rest);
    case 'audit':
      return audit(rest);
    case 'tokens':
      return tokens(rest);
    case 'webhooks':
      return webhooks(rest);
    case 'dlq':
      return dlq(rest);
    case 'simulate':
      return simulate(rest);
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`nanobill: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { only: { type: 'string' } } });
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((s) => !(SERVICES as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) {
    console.error(
      `nanobill run: unknown service ${unknown.join(', ')} (known: ${SERVICES.join(', ')})`,
    );
    return 2;
  }
  const logger = createLogger();
  return serveUntilStopped({
    logger,
    start: () => startPipeline({ config: loadConfig(), logger, only: only as ServiceName[] }),
  });
}

main(process.argv.slice(2)).then(exitAfterOutput, (error: unknown) => {
  console.error(`nanobill: ${(error as Error).message}`);
  exitAfterOutput(1);
});
