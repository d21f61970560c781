import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '@nanobill/contract';
import { loadConfig } from '@nanobill/config';
import { formatUsd } from '@nanobill/money';
import { createLogger } from '@nanobill/observability';
import { loadProviders } from '@nanobill/providers';
import {
  publishAccounts,
  runPrefix as newRunPrefix,
  runRouterSimulator,
  simulatedTraffic,
} from '@nanobill/router-simulator';
import { simulateProviders } from '@nanobill/provider-simulator';
import { createToken } from '@nanobill/api';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';

const PROGRESS_EVERY_MS = 5_000;

/**
 * The local stack on the embedded default: broker, pipeline and the router simulator, until
 * Ctrl-C or `--for` seconds. Logs stay at warn so the progress line is readable.
 */
export async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { rate: { type: 'string', default: '200' }, for: { type: 'string' } },
  });
  const rate = Number(values.rate);
  const seconds = values.for === undefined ? undefined : Number(values.for);
  if (!(rate > 0) || (seconds !== undefined && !(seconds > 0))) {
    console.error('usage: nanobill demo [--rate EVENTS_PER_SECOND] [--for SECONDS]');
    return 2;
  }
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const config = loadConfig();
  console.log(`demo: starting (data in ${config.dataDir}) …`);
  const { registry, simulator } = await simulateProviders(loadProviders(config.providersFile));
  const pipeline = await startPipeline({ config, logger, providers: registry });
  const api = `http://127.0.0.1:${pipeline.ports.api}`;
  console.log(
    `demo: pipeline up · broker ${pipeline.brokers.join(',')} · metrics http://127.0.0.1:${pipeline.ports.ops}/metrics · ` +
      `account status ${api}/v1/accounts/<id>/status`,
  );

  const runPrefix = newRunPrefix('demo');
  const { generator, snapshots } = simulatedTraffic({ prefix: runPrefix });
  await publishAccounts(pipeline.kafka, snapshots);
  // A token for the first paying org, so the dashboard can be opened right away.
  const org = snapshots.find((s) => s.kind === 'org' && s.plan !== 'free')?.accountId;
  if (org !== undefined) {
    const { token } = await createToken(pipeline.reader, { kind: 'org', org, label: 'demo' });
    console.log(
      `demo: dashboard ${api}/ · org ${org} · token ${token} (more: npx nanobill tokens create --org ORG)`,
    );
  }

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  let sent = 0;
  const progress = setInterval(() => {
    Promise.all([storedRows(pipeline, runPrefix), ledgerTotal(pipeline), alertCount(pipeline)])
      .then(([stored, ledger, alerts]) =>
        console.log(
          `demo: sent ${sent} events · ${stored} usage rows stored · ledger ${ledger.rows} rows, ${formatUsd(ledger.nano)} (priced every minute) · ${alerts} alerts`,
        ),
      )
      // A progress line that cannot be read (ClickHouse busy or restarting) is only skipped.
      .catch((error: unknown) =>
        console.error(`demo: no progress line: ${(error as Error).message}`),
      );
  }, PROGRESS_EVERY_MS);
  try {
    const result = await runRouterSimulator({
      kafka: pipeline.kafka,
      topic: TOPICS.requests,
      ratePerSecond: rate,
      durationMs: seconds === undefined ? undefined : seconds * 1000,
      generator,
      signal: stop.signal,
      onProgress: (n) => (sent = n),
    });
    sent = result.sent;
    await waitUntilStored(pipeline, runPrefix, sent, 30_000);
  } finally {
    clearInterval(progress);
    console.log(
      `demo: stopping · sent ${sent} events · ${await storedRows(pipeline, runPrefix)} usage rows stored`,
    );
    await pipeline.stop();
    await simulator.close();
  }
  console.log('demo: stopped (the broker keeps running; `npm run kafka:stop` stops it)');
  return 0;
}

/** Rows of this run only: the data directory may hold earlier demos. */
async function storedRows(pipeline: Pipeline, prefix: string): Promise<number> {
  const result = await pipeline.reader.query({
    query: 'SELECT count() AS n FROM billing.usage WHERE startsWith(request_id, {prefix:String})',
    query_params: { prefix },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return Number(row?.n ?? 0);
}

async function ledgerTotal(pipeline: Pipeline): Promise<{ rows: number; nano: bigint }> {
  const result = await pipeline.reader.query({
    query:
      'SELECT count() AS rows, toString(sum(toInt128(cost_nano_usd))) AS nano FROM billing.ledger',
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ rows: string; nano: string }>();
  return { rows: Number(row?.rows ?? 0), nano: BigInt(row?.nano ?? 0) };
}

async function alertCount(pipeline: Pipeline): Promise<number> {
  const result = await pipeline.reader.query({
    query: 'SELECT count() AS n FROM billing.alerts',
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return Number(row?.n ?? 0);
}

/** Lets the last events land before stopping, so the closing line adds up. */
async function waitUntilStored(
  pipeline: Pipeline,
  prefix: string,
  sent: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await storedRows(pipeline, prefix)) < sent) await sleep(250);
}
