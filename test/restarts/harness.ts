// What every restart test shares: a "world" (one ClickHouse server, the shared broker with
// topics of the test's own, the providers' cost endpoints, a few minutes of router traffic and
// the accounts it names), the services as child processes that the test kills and restarts (or
// that kill themselves at an insert: CRASH_ON_INSERT), the enforcement service in the test's
// process (its live spend is read directly), and the end: the pipeline settled, then the ground
// truth and the books checked.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { migrate, openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { pricingKey, type AccountSnapshot, type RoutedRequestEvent } from '@nanobill/contract';
import { startEnforcement, type EnforcementService } from '@nanobill/enforcement-service';
import { createMetricsRegistry } from '@nanobill/observability';
import { loadProviders } from '@nanobill/providers';
import {
  accountSnapshots,
  createEventGenerator,
  publishAccounts,
} from '@nanobill/router-simulator';
import { monthStatements } from '@nanobill/statements';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { generateSecretsKey } from '@nanobill/webhooks';
import {
  produce,
  queryValue,
  quietLogger,
  spawnTs,
  tempDir,
  testKafka,
  uniqueName,
  waitFor,
  type ChildRun,
} from '@nanobill/testkit';
import { ClickHouseServer, keepLog } from '../fixtures/chdb-server.js';
import { ensurePipelineTopics, type PipelineTopics } from '../fixtures/pipeline-topics.js';
import {
  independentPayer,
  independentStatements,
  providersWithTruth,
  statementFigures,
  trueCost,
} from '../fixtures/ground-truth.js';

export { expectBooksBalanced } from './books.js';

const CHILD = fileURLToPath(new URL('../fixtures/chaos-service.ts', import.meta.url));

/** The services a child process runs (enforcement runs in the test's process, the api apart). */
export type ChildService = 'ingest' | 'accounts' | 'pricing' | 'statements' | 'alerts';
const CHILD_SERVICES: readonly ChildService[] = [
  'ingest',
  'accounts',
  'pricing',
  'statements',
  'alerts',
];

/** Requests expire this soon: short enough to see requests unpriced within a test. */
export const DEADLINE_MS = 8_000;
/** The broker's minimum session: a restarted consumer takes over from a killed one quickly. */
const SESSION_TIMEOUT_MS = 6_000;

export interface WorldOptions {
  name: string;
  seed?: number;
  events?: number;
  /** Providers whose cost endpoint answers 500 throughout: their requests end unpriced. */
  failing?: readonly string[];
  /** Where the limited org's alerts go (a receiver from @nanobill/testkit). */
  webhook?: { url: string; ca: string };
}

/** The traffic of a world and what it must come to. */
export interface Traffic {
  events: RoutedRequestEvent[];
  snapshots: AccountSnapshot[];
  /** Routed requests that reached their provider: each ends priced, or unpriced. */
  reachable: RoutedRequestEvent[];
  month: string;
  monthStart: number;
  /** A paying org whose spending limit its traffic passes (limit alerts, then blocked). */
  limitedOrg: string;
  failing: ReadonlySet<string>;
}

/** A service's child process. */
export class ServiceChild {
  readonly run: ChildRun;
  #out = '';

  constructor(
    readonly services: readonly ChildService[],
    env: NodeJS.ProcessEnv,
  ) {
    this.run = spawnTs(CHILD, { ...env, SERVICES: services.join(',') });
    this.run.child.stdout!.on('data', (chunk: Buffer) => (this.#out += chunk.toString()));
    keepLog(this.run, services.join('+'));
  }

  get name(): string {
    return this.services.join('+');
  }

  async ready(): Promise<void> {
    await waitFor(
      `${this.name} to be ready`,
      async () => {
        if (this.#out.includes('ready')) return true;
        if (this.run.child.exitCode !== null || this.run.child.signalCode !== null) {
          const { code, signal, stderr } = await this.run.exited;
          throw new Error(`${this.name} exited (${code ?? signal}): ${stderr.slice(-2_000)}`);
        }
        return undefined;
      },
      90_000,
      50,
    );
  }

  /** Waits for the SIGKILL the child gave itself at its crash point. */
  async crashed(): Promise<void> {
    const { signal, stderr } = await this.run.exited;
    expect(signal, `${this.name} was to kill itself: ${stderr.slice(-2_000)}`).toBe('SIGKILL');
  }

  async kill(): Promise<void> {
    this.run.child.kill('SIGKILL');
    await this.run.exited;
  }

  /** SIGTERM: drains, commits, exits 0. */
  async stop(): Promise<void> {
    if (this.run.child.exitCode !== null || this.run.child.signalCode !== null) return;
    this.run.child.kill('SIGTERM');
    const { code, stderr } = await this.run.exited;
    expect(code, `${this.name} stopping: ${stderr.slice(-2_000)}`).toBe(0);
  }
}

export type World = Awaited<ReturnType<typeof startWorld>>;

/**
 * A world of its own: ClickHouse server, topics, cost endpoints (the `failing` ones answering
 * 500), the traffic and account snapshots (not sent yet). Close it with `close()`.
 */
export async function startWorld(options: WorldOptions) {
  const cleanup: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
  };
  try {
    const dataDir = tempDir(`nanobill-restarts-${options.name}-`);
    cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const kafka = testKafka();
    const topics = Object.fromEntries(
      ['REQUESTS', 'REQUESTS_DLQ', 'ACCOUNTS', 'ACCOUNTS_DLQ', 'ALERTS', 'STATUS'].map((t) => [
        `TOPIC_${t}`,
        uniqueName(`restarts-${options.name}-${t.toLowerCase()}`),
      ]),
    ) as PipelineTopics;
    await ensurePipelineTopics(kafka, topics);

    const { simulator, providersFile } = await providersWithTruth(dataDir, { timeoutMs: 1_500 });
    cleanup.push(() => simulator.close());
    for (const provider of options.failing ?? []) {
      simulator.setFaults(provider, [{ kind: 'status', status: 500 }]);
    }
    const chServer = new ClickHouseServer(dataDir);
    cleanup.push(() => chServer.stop('SIGTERM'));
    const clickhouseUrl = await chServer.start(0);
    const clickhouse = openClickHouse({ url: clickhouseUrl, dataDir });
    cleanup.push(() => clickhouse.close());
    await migrate(clickhouse);

    const traffic = makeTraffic(options);
    let webhookEnv: NodeJS.ProcessEnv = {};
    if (options.webhook) {
      const caFile = join(dataDir, 'receiver-ca.pem');
      writeFileSync(caFile, options.webhook.ca);
      webhookEnv = { WEBHOOK_CA_FILE: caFile };
    }
    const group = uniqueName(`restarts-${options.name}`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...topics,
      ...webhookEnv,
      CLICKHOUSE_URL: clickhouseUrl,
      DATA_DIR: dataDir,
      NANOBILL_PROVIDERS_FILE: providersFile,
      GROUP: group,
      EXPECTED_SNAPSHOTS: String(traffic.snapshots.length),
      PRICING_SCHEDULE: '* * * * * *',
      PRICING_DEADLINE_MS: String(DEADLINE_MS),
      STATEMENTS_SCHEDULE: '*/2 * * * * *',
      SECRETS_KEY: generateSecretsKey(),
    };
    const children = new Set<ServiceChild>();
    cleanup.push(async () => {
      for (const child of children) if (child.run.child.exitCode === null) await child.kill();
    });
    const enforcements = new Set<EnforcementService>();
    cleanup.push(async () => {
      for (const e of enforcements) await e.stop();
    });
    const providers = loadProviders(providersFile);
    const statementsFresh = async () =>
      (await queryValue<number>(
        clickhouse,
        // Lines (drafts included) and the rollup corrections, both past the newest ledger row.
        `SELECT (SELECT max(computed_at) FROM billing.statements) >= (SELECT max(inserted_at) FROM billing.ledger_entries)
            AND (SELECT max(checked_until) FROM billing.rollup_checks) >= (SELECT max(inserted_at) FROM billing.ledger_entries)`,
      ))
        ? true
        : undefined;

    return {
      name: options.name,
      clickhouse,
      kafka,
      topics,
      traffic,
      simulator,
      /** The enforcement service's consumer group. */
      enforcementGroup: `${group}-enforcement`,
      close,

      /**
       * Starts `services` in a child process. `crash`: it SIGKILLs itself there (`after:<table>`
       * once ClickHouse acknowledged its first insert into the table, `before:<table>` instead of
       * sending it); `env`: more settings (e.g. STATEMENTS_CLOCK_OFFSET_MS).
       */
      spawn(
        services: readonly ChildService[],
        options: { crash?: string; env?: NodeJS.ProcessEnv } = {},
      ): ServiceChild {
        const child = new ServiceChild(services, {
          ...env,
          ...options.env,
          ...(options.crash && { CRASH_ON_INSERT: options.crash }),
        });
        children.add(child);
        return child;
      },
      /** Every child service but `except`, in one child process, ready. */
      async spawnOthers(except: readonly ChildService[]): Promise<ServiceChild> {
        const child = this.spawn(CHILD_SERVICES.filter((s) => !except.includes(s)));
        await child.ready();
        return child;
      },
      /**
       * The usual opening: snapshots sent, every child service but `except` running in one
       * child, enforcement in this process (returned).
       */
      async runAllBut(except: readonly ChildService[]): Promise<EnforcementService> {
        await this.publishSnapshots();
        await this.spawnOthers(except);
        return this.startEnforcement();
      },
      /**
       * The enforcement service in this process, on the world's topics, once the snapshots are
       * stored (its accounts are known). Stopped by `close()` unless stopped before.
       */
      async startEnforcement(
        overrides: { ledgerOverlapMs?: number; groupId?: string } = {},
      ): Promise<EnforcementService> {
        await snapshotsStored(clickhouse, traffic.snapshots.length);
        const service = await startEnforcement({
          kafka,
          clickhouse,
          logger: quietLogger(),
          metrics: createMetricsRegistry(),
          providers,
          topics: {
            requests: topics.TOPIC_REQUESTS,
            accountStatus: topics.TOPIC_STATUS,
            alerts: topics.TOPIC_ALERTS,
          },
          groupId: overrides.groupId ?? `${group}-enforcement`,
          tickMs: 200,
          ledgerOverlapMs: overrides.ledgerOverlapMs,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
        });
        enforcements.add(service);
        const stop = service.stop.bind(service);
        service.stop = async () => {
          enforcements.delete(service);
          await stop();
        };
        return service;
      },
      async publishSnapshots(): Promise<void> {
        await publishAccounts(kafka, traffic.snapshots, topics.TOPIC_ACCOUNTS);
      },
      async snapshotsStored(): Promise<void> {
        await snapshotsStored(clickhouse, traffic.snapshots.length);
      },
      /** Sends `events` (default: all the traffic) as the router does. */
      async send(events: readonly RoutedRequestEvent[] = traffic.events): Promise<void> {
        await produce(
          kafka,
          topics.TOPIC_REQUESTS,
          events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
        );
      },
      /**
       * Until everything is done: every request `sent` (default: all the traffic) stored and
       * resolved, the statements refreshed and the rollups corrected since the last ledger row
       * (unless `statements` is false), `enforcement` ticked past it, every alert logged.
       */
      async settled(
        enforcement?: EnforcementService,
        {
          statements = true,
          sent = traffic.events,
        }: { statements?: boolean; sent?: readonly RoutedRequestEvent[] } = {},
      ): Promise<void> {
        const reachable = sent.filter((e) => traffic.reachable.includes(e)).length;
        await waitFor(
          'every request stored, and priced or unpriced',
          async () => {
            const [usage, resolved] = await queryValue<[string, string]>(
              clickhouse,
              `SELECT ((SELECT count() FROM billing.usage),
                       (SELECT count() FROM billing.ledger) + (SELECT count() FROM billing.unpriced))`,
            );
            return Number(usage) >= sent.length && Number(resolved) >= reachable ? true : undefined;
          },
          120_000,
          250,
        );
        await waitFor(
          'the statements refreshed after the last ledger row',
          statements ? statementsFresh : async () => true,
          60_000,
          250,
        );
        if (enforcement) for (let i = 0; i < 3; i++) await enforcement.tick();
        await waitFor(
          'every alert logged',
          async () =>
            (await lag(kafka, `${group}-alerts`, topics.TOPIC_ALERTS)) === 0n ? true : undefined,
          60_000,
          250,
        );
      },
      /** The ledger and statements against the traffic's ground truth. */
      async expectGroundTruth(): Promise<void> {
        await expectGroundTruth(clickhouse, traffic);
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function snapshotsStored(clickhouse: ClickHouseClient, expected: number): Promise<void> {
  await waitFor('the account snapshots stored', async () =>
    Number(await queryValue(clickhouse, 'SELECT count() FROM billing.account_snapshots')) >=
    expected
      ? true
      : undefined,
  );
}

/** How far a group's committed offsets are behind the end of a topic (all of it when none). */
async function lag(kafka: ReturnType<typeof testKafka>, groupId: string, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const at = new Map(committed!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
    return ends.reduce((sum, end) => {
      const offset = at.get(end.partition) ?? -1n;
      return sum + BigInt(end.high) - (offset < 0n ? BigInt(end.low) : offset);
    }, 0n);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A few minutes of router traffic ending now (requests young enough to be estimated), the
 * accounts' snapshots from before the month, and one paying org given a spending limit of 60 %
 * of what its members' requests truly cost it.
 */
function makeTraffic(options: WorldOptions): Traffic {
  const now = Date.now();
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const start = Math.max(now - 3 * 60_000, monthStart + 1);
  const count = options.events ?? 400;
  const generator = createEventGenerator({
    seed: options.seed ?? 13,
    users: 40,
    orgs: 6,
    failedShare: 0.05,
    startTime: new Date(start),
    eventsPerSecondOfSimTime: count / ((now - 5_000 - start) / 1000),
  });
  const events = generator.take(count);
  const snapshots = accountSnapshots(generator, new Date(monthStart - 24 * 3600_000));
  const failing = new Set(options.failing ?? []);
  const reachable = events.filter(
    (e) => e.billingMode === 'routed' && e.providerRequestId !== undefined,
  );
  const payer = independentPayer(snapshots);
  const spend = new Map<string, bigint>();
  for (const e of reachable) {
    if (failing.has(e.provider)) continue;
    spend.set(payer(e), (spend.get(payer(e)) ?? 0n) + trueCost(e));
  }
  const orgs = snapshots.filter(
    (s): s is Extract<AccountSnapshot, { kind: 'org' }> =>
      s.kind === 'org' && s.plan !== 'free' && (spend.get(s.accountId) ?? 0n) > 0n,
  );
  const limited = orgs.sort((a, b) =>
    Number((spend.get(b.accountId) ?? 0n) - (spend.get(a.accountId) ?? 0n)),
  )[0];
  if (!limited) throw new Error('the traffic bills no paying org');
  limited.spendingLimitNanoUsd = Number((spend.get(limited.accountId)! * 6n) / 10n);
  if (options.webhook) limited.alertWebhookUrl = options.webhook.url;
  return {
    events,
    snapshots,
    reachable,
    month: new Date(now).toISOString().slice(0, 7),
    monthStart,
    limitedOrg: limited.accountId,
    failing,
  };
}

/**
 * The ledger is the traffic's ground truth to the nano-USD: every reachable request priced at
 * its true cost and billed to the account that pays (docs/contract.md §5), or unpriced only when
 * its provider kept failing; nothing else in the ledger; the statements equal an independent
 * computation from the priced requests and the snapshots.
 */
export async function expectGroundTruth(
  clickhouse: ClickHouseClient,
  traffic: Traffic,
): Promise<void> {
  const ledger = await (
    await clickhouse.query({
      query: `SELECT request_id, provider, provider_request_id, billed_account, toString(cost_nano_usd) AS cost
              FROM billing.ledger`,
      format: 'JSONEachRow',
    })
  ).json<{
    request_id: string;
    provider: string;
    provider_request_id: string;
    billed_account: string;
    cost: string;
  }>();
  const unpriced = new Set(
    (
      await (
        await clickhouse.query({
          query: 'SELECT provider, provider_request_id FROM billing.unpriced',
          format: 'JSONEachRow',
        })
      ).json<{ provider: string; provider_request_id: string }>()
    ).map((r) => pricingKey(r.provider, r.provider_request_id)),
  );
  const byRequest = new Map(traffic.events.map((e) => [e.requestId, e]));
  const payer = independentPayer(traffic.snapshots);
  const wrong: string[] = [];
  const priced = new Set<string>();
  for (const row of ledger) {
    const e = byRequest.get(row.request_id);
    if (!e || e.providerRequestId !== row.provider_request_id || e.provider !== row.provider) {
      wrong.push(`a ledger row of no request sent: ${JSON.stringify(row)}`);
      continue;
    }
    priced.add(e.requestId);
    if (BigInt(row.cost) !== trueCost(e))
      wrong.push(`${e.requestId}: ${row.cost} ≠ ${trueCost(e)}`);
    if (row.billed_account !== payer(e))
      wrong.push(`${e.requestId} billed to ${row.billed_account}, not ${payer(e)}`);
  }
  for (const e of traffic.reachable) {
    const isUnpriced = unpriced.has(pricingKey(e.provider, e.providerRequestId!));
    if (!priced.has(e.requestId) && !isUnpriced)
      wrong.push(`${e.requestId} neither priced nor unpriced`);
    if (isUnpriced && !traffic.failing.has(e.provider))
      wrong.push(`${e.requestId} unpriced, yet ${e.provider} answers`);
  }
  expect(wrong.slice(0, 20), `${wrong.length} requests off their ground truth`).toEqual([]);
  expect(ledger.length, 'ledger rows').toBe(priced.size);

  const reader = new AccountFactsReader(clickhouse, new AccountHistory());
  await reader.refresh();
  const lines = await monthStatements(clickhouse, reader.history, traffic.month, new Date());
  const expected = independentStatements(
    traffic.events.filter((e) => e.billingMode === 'custom_key' || priced.has(e.requestId)),
    traffic.snapshots,
    payer,
    trueCost,
    traffic.monthStart,
  );
  const big = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  const differ = lines
    .map((line) => ({
      account: line.account_id,
      got: JSON.stringify(statementFigures(line), big),
      want: JSON.stringify(expected.get(line.account_id), big),
    }))
    .filter((d) => d.got !== d.want)
    .map((d) => `${d.account}: ${d.got} ≠ ${d.want}`);
  expect(differ.slice(0, 10), 'statement lines vs the ground truth').toEqual([]);
  expect(lines.length, 'statement lines').toBe(expected.size);
}
