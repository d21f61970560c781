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

const USAGE = 'usage: nanobill migrate [--finance-user NAME]';

/**
 * `nanobill migrate [--finance-user NAME]`: the one process that changes a shared ClickHouse
 * schema. Services started with `--only` against `CLICKHOUSE_URL` wait for it instead of
 * migrating themselves. With `--finance-user`, on a server, it also makes (or brings up to date)
 * the finance user: a read-only profile with the finance limits, SELECT on the finance objects
 * only; the API then reaches it through CLICKHOUSE_FINANCE_URL.
 */
export async function migrate(args: string[] = []): Promise<number> {
  let financeUser: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { 'finance-user': { type: 'string' } } });
    financeUser = values['finance-user'];
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  if (financeUser !== undefined && config.clickhouseUrl === undefined) {
    console.error(
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
    console.log(
      applied.length === 0
        ? 'schema up to date'
        : `applied ${applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}`,
    );
    for (const query of statements) await client.command({ query });
    if (financeUser !== undefined) {
      console.log(
        `finance user ${financeUser}: profile ${FINANCE_PROFILE} (readonly, finance limits), SELECT on ${FINANCE_OBJECTS.length} billing objects only`,
      );
    }
    return 0;
  } finally {
    await client.close();
  }
}

/** NANOBILL_FINANCE_PASSWORD, else the file NANOBILL_FINANCE_PASSWORD_FILE. */
function financePassword(password: Config['financePassword']): string {
  if (password.value !== undefined) return password.value;
  if (password.file !== undefined) return readFileSync(password.file, 'utf8').trim();
  throw new Error(
    '--finance-user needs the password in NANOBILL_FINANCE_PASSWORD or NANOBILL_FINANCE_PASSWORD_FILE',
  );
}
