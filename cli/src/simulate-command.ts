import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '@nanobill/config';
import { TOPICS } from '@nanobill/contract';
import { kafkaFromConfig, type Kafka } from '@nanobill/kafka';
import { createLogger } from '@nanobill/observability';
import { untilSignal } from '@nanobill/pipeline';
import {
  FAULTS_ENV,
  parseFaults,
  simulatorToken,
  startSimulatedProviders,
} from '@nanobill/provider-simulator';
import { loadProviders, providerToken, type RemoteProvider } from '@nanobill/providers';
import {
  publishAccounts,
  runPrefix,
  runRouterSimulator,
  simulatedTraffic,
} from '@nanobill/router-simulator';

const USAGE = `usage: nanobill simulate providers [--port P] [--host H] [--faults JSON]
                                   [--tls-cert FILE --tls-key FILE]
       nanobill simulate router [--rate N] [--for S] [--count N] [--seed N]
                                [--topic T] [--accounts-topic T] [--no-accounts]

  providers  the cost endpoints and price lists of the providers file's remote providers
             (POST /<provider>/cost, GET /<provider>/v1/models), until SIGTERM. Port 8787 and
             127.0.0.1 by default (where infra/providers/local.json points). Each provider
             accepts the token pricing sends (its tokenFile, else $tokenEnv), else
             sim-token-<provider>. --faults (or NANOBILL_SIM_FAULTS): {"<provider>|*": [fault, ...]},
             the simulator's fault classes, e.g. {"groq": [{"kind": "status", "status": 503}]}.
             --tls-cert/--tls-key (PEM files): HTTPS, which a providers file requires for any
             host that is not loopback (each provider trusts the certificate through its caFile)
  router     router events to KAFKA_BROKERS (TLS/SASL from the KAFKA_* variables) at --rate
             events/s (default 200) until SIGTERM, --for seconds or --count events; first the
             simulated accounts to billing.accounts.v1 (unless --no-accounts)`;

/** `nanobill simulate providers|router`: the simulators, each as a process of its own. */
export async function simulate(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  try {
    if (what === 'providers') return await simulateProviders(rest);
    if (what === 'router') return await simulateRouter(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`nanobill simulate: ${error.message}\n${USAGE}`);
    return 2;
  }
  console.error(USAGE);
  return 2;
}

class UsageError extends Error {}

/** Bad flags are a usage error (exit 2), as in the other commands. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function number(
  name: string,
  value: string | undefined,
  check: (n: number) => boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !check(n)) throw new UsageError(`bad --${name} ${value}`);
  return n;
}

const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65_535;
const positive = (n: number) => Number.isFinite(n) && n > 0;
const count = (n: number) => Number.isSafeInteger(n) && n > 0;

async function simulateProviders(args: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8787' },
        host: { type: 'string', default: '127.0.0.1' },
        faults: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
      },
    }),
  );
  const listenPort = number('port', values.port, port)!;
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  const tls =
    values['tls-cert'] === undefined
      ? undefined
      : { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']!) };
  const registry = loadProviders(loadConfig().providersFile);
  if (registry.remote.size === 0) throw new UsageError('the providers file has no remote provider');
  const faults = usage(() =>
    parseFaults(values.faults ?? process.env[FAULTS_ENV], [...registry.remote.keys()]),
  );
  const fallback: string[] = [];
  const token = (provider: RemoteProvider) => {
    // The token pricing will send; a configured file that cannot be read fails, as it would there.
    if (provider.tokenFile || process.env[provider.tokenEnv]) return providerToken(provider);
    fallback.push(provider.name);
    return simulatorToken(provider.name);
  };
  const simulator = await startSimulatedProviders(registry, {
    token,
    port: listenPort,
    host: values.host,
    tls,
  });
  for (const [provider, list] of faults) simulator.setFaults(provider, list);
  console.log(
    `provider simulator: ${registry.remote.size} providers on ${simulator.url} (POST /<provider>/cost, GET /<provider>/v1/models)`,
  );
  if (fallback.length > 0) {
    console.log(
      `provider simulator: no token configured for ${fallback.join(', ')}: they accept sim-token-<provider>`,
    );
  }
  if (faults.size > 0) {
    console.log(
      `provider simulator: faults ${[...faults].map(([p, list]) => `${p}: ${list.map((f) => f.kind).join('+')}`).join(', ')}`,
    );
  }
  const signal = await untilSignal();
  await simulator.close();
  console.log(`provider simulator: stopped (${signal})`);
  return 0;
}

async function simulateRouter(args: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args,
      options: {
        rate: { type: 'string', default: '200' },
        for: { type: 'string' },
        count: { type: 'string' },
        seed: { type: 'string', default: '42' },
        topic: { type: 'string', default: TOPICS.requests },
        'accounts-topic': { type: 'string', default: TOPICS.accounts },
        'no-accounts': { type: 'boolean', default: false },
      },
    }),
  );
  const rate = number('rate', values.rate, positive)!;
  const seconds = number('for', values.for, positive);
  const total = number('count', values.count, count);
  const seed = number('seed', values.seed, Number.isSafeInteger)!;
  const topic = values.topic;
  const accountsTopic = values['accounts-topic'];
  const config = loadConfig();
  if (config.kafkaBrokers === undefined) {
    throw new UsageError('KAFKA_BROKERS is not set (the local broker: npm run kafka:start)');
  }
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const kafka = kafkaFromConfig(config, { clientId: 'nanobill-router-simulator', logger });
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());

  const withAccounts = !values['no-accounts'];
  await waitForTopics(kafka, withAccounts ? [topic, accountsTopic] : [topic], stop.signal);
  if (stop.signal.aborted) return 0;
  const prefix = runPrefix('sim');
  const { generator, snapshots } = simulatedTraffic({ prefix, seed });
  if (withAccounts) {
    await publishAccounts(kafka, snapshots, accountsTopic);
    console.log(`router simulator: ${snapshots.length} account snapshots sent to ${accountsTopic}`);
  }
  console.log(
    `router simulator: ${rate} events/s to ${topic} on ${config.kafkaBrokers.join(',')}` +
      `${seconds === undefined ? '' : ` for ${seconds} s`}${total === undefined ? '' : `, ${total} events`}` +
      ` (request ids ${prefix}…), until SIGTERM`,
  );
  let sent = 0;
  const progress = setInterval(() => console.log(`router simulator: sent ${sent} events`), 5_000);
  try {
    const result = await runRouterSimulator({
      kafka,
      topic,
      ratePerSecond: rate,
      durationMs: seconds === undefined ? undefined : seconds * 1000,
      total,
      generator,
      signal: stop.signal,
      onProgress: (n) => (sent = n),
    });
    sent = result.sent;
  } finally {
    clearInterval(progress);
  }
  console.log(`router simulator: done, sent ${sent} events`);
  return 0;
}

/** Until the topics exist (the pipeline creates them on start), printing once what it waits for. */
async function waitForTopics(kafka: Kafka, topics: string[], signal: AbortSignal): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let told = false;
    while (!signal.aborted) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (!told) console.log(`router simulator: waiting for the topics ${missing.join(', ')}`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  } finally {
    await admin.disconnect();
  }
}
