import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '@nanobill/config';
import {
  migrate as applyMigrations,
  financeUserStatements,
  openClickHouse,
  FINANCE_OBJECTS,
  FINANCE_PROFILE,
} from '@nanobill/clickhouse';
import {
  describeDrift,
  kafkaFromConfig,
  prepareTopics,
  topicSpecs,
  TOPIC_NAMES,
  type TopicNames,
} from '@nanobill/kafka';
import { createLogger } from '@nanobill/observability';

const USAGE = 'usage: nanobill migrate [--finance-user NAME]';

/** Where migrate writes what it did (stdout) and what an operator must fix (stderr). */
export interface MigrateReport {
  info(line: string): void;
  error(line: string): void;
}

export interface MigrateOverrides {
  env?: NodeJS.ProcessEnv;
  /** Topics of a test's own; the contract's by default. */
  topicNames?: TopicNames;
  report?: MigrateReport;
}

const CONSOLE: MigrateReport = { info: console.log, error: console.error };

/**
 * `nanobill migrate [--finance-user NAME]`: the one deployment step that changes shared state.
 * It applies the ClickHouse migrations (services started with `--only` against `CLICKHOUSE_URL`
 * wait for it instead of migrating themselves) and creates the Kafka topics, so a router started
 * before nanobill finds them. With `--finance-user`, on a server, it also makes (or brings up to
 * date) the finance user: a read-only profile with the finance limits, SELECT on the finance
 * objects only; the API then reaches it through CLICKHOUSE_FINANCE_URL.
 */
export async function migrate(
  args: string[] = [],
  overrides: MigrateOverrides = {},
): Promise<number> {
  const report = overrides.report ?? CONSOLE;
  let financeUser: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { 'finance-user': { type: 'string' } } });
    financeUser = values['finance-user'];
  } catch (error) {
    report.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig(overrides.env);
  if (financeUser !== undefined && config.clickhouseUrl === undefined) {
    report.error(
      'nanobill migrate --finance-user needs a ClickHouse server (CLICKHOUSE_URL): embedded ClickHouse has no users',
    );
    return 2;
  }
  const statements =
    financeUser === undefined
      ? []
      : financeUserStatements(financeUser, financePassword(config.financePassword));
  const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    const applied = await applyMigrations(client);
    report.info(
      applied.length === 0
        ? 'schema up to date'
        : `applied ${applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}`,
    );
    for (const query of statements) await client.command({ query });
    if (financeUser !== undefined) {
      report.info(
        `finance user ${financeUser}: profile ${FINANCE_PROFILE} (readonly, finance limits), SELECT on ${FINANCE_OBJECTS.length} billing objects only`,
      );
    }
  } finally {
    await client.close();
  }
  await createTopics(config, overrides.topicNames ?? TOPIC_NAMES, report);
  return 0;
}

/**
 * The topics `nanobill run` would create, made here with the same specs and code. A config an
 * existing topic lacks is reported with its fix, never changed (docs/operations.md, "The `nanobill`
 * command").
 */
async function createTopics(config: Config, names: TopicNames, report: MigrateReport) {
  if (config.kafkaBrokers === undefined) {
    report.info('topics: KAFKA_BROKERS is not set; nanobill run creates them on its local broker');
    return;
  }
  const kafka = kafkaFromConfig(config, {
    clientId: 'nanobill-migrate',
    // Its stdout says what it did; the Kafka client's own complaints go to stderr.
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: 'stderr' }),
  });
  const { created, drift } = await prepareTopics(
    kafka,
    topicSpecs(config.requestsPartitions, names),
  );
  report.info(created.length === 0 ? 'topics up to date' : `topics created: ${created.join(', ')}`);
  for (const d of drift) report.error(describeDrift(d));
}

/** NANOBILL_FINANCE_PASSWORD, else the file NANOBILL_FINANCE_PASSWORD_FILE. */
function financePassword(password: Config['financePassword']): string {
  if (password.value !== undefined) return password.value;
  if (password.file !== undefined) return readFileSync(password.file, 'utf8').trim();
  throw new Error(
    '--finance-user needs the password in NANOBILL_FINANCE_PASSWORD or NANOBILL_FINANCE_PASSWORD_FILE',
  );
}
