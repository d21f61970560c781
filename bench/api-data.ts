// Synthetic priced usage for the org admins' API and dashboard: `fillLedger` writes ledger rows
// straight into billing.ledger_entries, generated inside ClickHouse (10 million rows would take
// minutes to build and send from Node). The rows go through the usage_hourly materialized view
// like the pricing service's own inserts.
//
// `npx tsx bench/api-data.ts [--requests N] [--days D]`: fills a fresh embedded ClickHouse and
// times the fill and a 30-day usage graph of the busiest org, with the rows each read scans.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { migrate, openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { DEFAULT_PROVIDERS } from '@nanobill/contract';
import { tempDir } from '@nanobill/testkit';
import { monthToDateGross } from '@nanobill/statement-lines';
import { monthToDateCost, usageSeries, usageSeriesQuery } from '@nanobill/usage';

export interface FillLedgerOptions {
  days: number;
  requests: number;
  orgs: number;
  membersPerOrg: number;
  seed: number;
  /** The fill covers [end − days, end). Default: the start of the current UTC hour. */
  end?: Date;
}

// Ten model families, each with its task (eight tasks); only the LLM tasks carry token usage.
const FAMILIES: ReadonlyArray<readonly [family: string, task: string]> = [
  ['openai/gpt-oss', 'conversational'],
  ['meta-llama/Llama-3.3', 'text-generation'],
  ['Qwen/Qwen3', 'conversational'],
  ['deepseek-ai/DeepSeek-R1', 'conversational'],
  ['google/gemma-3', 'image-text-to-text'],
  ['cardiffnlp/roberta-sentiment', 'text-classification'],
  ['Wan-AI/Wan2.2', 'text-to-video'],
  ['black-forest-labs/FLUX.1', 'text-to-image'],
  ['openai/whisper', 'automatic-speech-recognition'],
  ['BAAI/bge', 'feature-extraction'],
];
const LLM_TASKS = ['conversational', 'text-generation', 'image-text-to-text'];
const SIZES = ['small', 'base', 'large', 'xl', 'xxl'];
/** 50 models, with their tasks. */
export const FILL_MODELS = FAMILIES.flatMap(([family, task]) =>
  SIZES.map((size) => ({ model: `${family}-${size}`, task })),
);

/**
 * Inserts `requests` ledger rows billed to orgs `org-0000`… spread over the last `days` days,
 * deterministic for a seed and an end. Traffic is skewed as a router's is (low org numbers are
 * busier, each member mostly uses two models, each model is served mostly by one provider):
 * uniform noise would give the rollup no repeated keys to fold and flatter nobody. Use a new
 * seed for each fill into one ledger: the seed is part of every provider request id. Prints
 * nothing.
 */
export async function fillLedger(
  clickhouse: ClickHouseClient,
  options: FillLedgerOptions,
): Promise<{ rows: number; seconds: number }> {
  const { days, requests, orgs, membersPerOrg, seed } = options;
  for (const [name, value] of Object.entries({ days, requests, orgs, membersPerOrg, seed })) {
    const least = name === 'requests' || name === 'seed' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`${name} must be an integer ≥ ${least}`);
    }
  }
  const end = options.end ?? new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  const started = performance.now();
  await clickhouse.command({
    query: `INSERT INTO billing.ledger_entries
              (provider, provider_request_id, request_id, event_time, priced_at, user_id,
               billed_account, attribution, attribution_reason, bill_to, model, task,
               cost_nano_usd, cost_source, input_tokens, output_tokens)
            SELECT provider, concat('fill-', toString({seed:UInt64}), '-', toString(number)),
                   concat('req-', toString({seed:UInt64}), '-', toString(number)),
                   event_time, event_time + toIntervalMillisecond(20000 + h % 70000),
                   concat(account, '-u', leftPad(toString(member), 3, '0')),
                   account, 'org', '', account, model, task,
                   if(llm, toInt64(input * price_in + output * price_out),
                      toInt64(500000 + h % 40000000)),
                   if(provider = 'hf-inference', 'hf_compute_time', 'provider_api'),
                   if(llm, input, NULL), if(llm, output, NULL)
            FROM (
              SELECT number,
                     cityHash64({seed:UInt64}, number) AS h,
                     cityHash64(h, 1) AS h1, cityHash64(h, 2) AS h2, cityHash64(h, 3) AS h3,
                     -- Squaring a uniform draw makes low org numbers the busiest.
                     toUInt32(floor(pow((h1 % 1000000) / 1000000, 2) * {orgs:UInt32})) AS org,
                     concat('org-', leftPad(toString(org), 4, '0')) AS account,
                     toUInt32(h2 % {members:UInt32}) AS member,
                     cityHash64({seed:UInt64}, org, member) % {models:UInt32} AS favourite,
                     multiIf(h3 % 100 < 60, favourite, h3 % 100 < 85,
                             (favourite + 1) % {models:UInt32}, h % {models:UInt32}) AS model_index,
                     {modelNames:Array(String)}[model_index + 1] AS model,
                     {modelTasks:Array(String)}[model_index + 1] AS task,
                     has({llmTasks:Array(String)}, task) AS llm,
                     {providers:Array(String)}[
                       (model_index * 7 + if(h3 % 5 = 0, 5, 0)) % length({providers:Array(String)}) + 1
                     ] AS provider,
                     toUInt64(20 + cityHash64(h, 5) % 4000) AS input,
                     toUInt64(5 + cityHash64(h, 6) % 1200) AS output,
                     toUInt64(20 + model_index * 6) AS price_in,
                     toUInt64(80 + model_index * 24) AS price_out,
                     fromUnixTimestamp64Milli(
                       toInt64({endMs:Int64}) - 1 - toInt64(cityHash64(h, 4) % {spanMs:UInt64}), 'UTC'
                     ) AS event_time
              FROM numbers({requests:UInt64})
            )`,
    query_params: {
      seed,
      orgs,
      members: membersPerOrg,
      models: FILL_MODELS.length,
      modelNames: FILL_MODELS.map((m) => m.model),
      modelTasks: FILL_MODELS.map((m) => m.task),
      llmTasks: LLM_TASKS,
      providers: [...DEFAULT_PROVIDERS],
      endMs: end.getTime(),
      spanMs: days * 86_400_000,
      requests,
    },
  });
  return { rows: requests, seconds: (performance.now() - started) / 1000 };
}

/** Rows ClickHouse expects to read for a query, from its primary index (EXPLAIN ESTIMATE). */
async function rowsToRead(
  clickhouse: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
) {
  const result = await clickhouse.query({
    query: `EXPLAIN ESTIMATE ${query}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await result.json<{ rows: string }>()).reduce((sum, r) => sum + Number(r.rows), 0);
}

async function main() {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000000' },
      days: { type: 'string', default: '30' },
    },
  });
  const config = loadConfig();
  const clickhouse = openClickHouse({
    url: config.clickhouseUrl,
    dataDir: tempDir('nanobill-bench-'),
  });
  await migrate(clickhouse);
  const requests = Number(values.requests);
  const days = Number(values.days);
  const end = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  console.log(`bench api-data: ${requests} ledger rows over ${days} days, 100 orgs × 20 members`);
  const fill = await fillLedger(clickhouse, {
    days,
    requests,
    orgs: 100,
    membersPerOrg: 20,
    seed: 1,
    end,
  });
  console.log(
    `  fill                ${fill.seconds.toFixed(1)} s (${Math.round(fill.rows / fill.seconds)} rows/s, rollup included)`,
  );
  const count = async (query: string) => {
    const result = await clickhouse.query({ query, format: 'JSONCompactEachRow' });
    return Number((await result.json<[string]>())[0]?.[0]);
  };
  console.log(`  rollup rows         ${await count('SELECT count() FROM billing.usage_hourly')}`);

  const from = new Date(end.getTime() - 30 * 86_400_000);
  const graphs = async (when: string) => {
    for (const account of ['org-0000', 'org-0050']) {
      const ledgerRows = await count(
        `SELECT count() FROM billing.ledger_entries WHERE billed_account = '${account}'`,
      );
      const rollupRows = await count(
        `SELECT count() FROM billing.usage_hourly WHERE billed_account = '${account}'`,
      );
      console.log(`  ${account} (${when}): ${ledgerRows} ledger rows, ${rollupRows} rollup rows`);
      for (const [granularity, groupBy] of [
        ['day', 'model'],
        ['day', 'member'],
        ['hour', 'task'],
      ] as const) {
        const options = { account, from, to: end, granularity, groupBy };
        const { query, query_params } = usageSeriesQuery(options);
        const scanned = await rowsToRead(clickhouse, query, query_params);
        const t = performance.now();
        const result = await usageSeries(clickhouse, options);
        const ms = performance.now() - t;
        console.log(
          `    30 d by ${groupBy}/${granularity}: ${ms.toFixed(0)} ms, reads ~${scanned} rows, ` +
            `${result.series.reduce((n, s) => n + s.points.length, 0)} points`,
        );
      }
      const month = end.toISOString().slice(0, 7);
      let t = performance.now();
      const cost = await monthToDateCost(clickhouse, account, month);
      console.log(
        `    month to date (rollup): ${cost} nano-USD in ${(performance.now() - t).toFixed(0)} ms`,
      );
      // The spend page's figure: the statement's, read from the ledger (adjustments included).
      t = performance.now();
      const statement = await monthToDateGross(clickhouse, account, month);
      console.log(
        `    month to date (statement, /spend): ${statement} nano-USD in ${(performance.now() - t).toFixed(0)} ms`,
      );
    }
  };
  await graphs('as inserted');
  const t = performance.now();
  await clickhouse.command({ query: 'OPTIMIZE TABLE billing.usage_hourly FINAL' });
  console.log(
    `  OPTIMIZE … FINAL in ${((performance.now() - t) / 1000).toFixed(1)} s: ` +
      `${await count('SELECT count() FROM billing.usage_hourly')} rollup rows`,
  );
  await graphs('merged');
  await clickhouse.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
