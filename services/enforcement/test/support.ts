import {
  MAX_EVENT_WINDOW_MS,
  type AccountSnapshot,
  type AccountStatus,
  type RoutedRequestEvent,
} from '@nanobill/contract';
import { snapshotRow } from '@nanobill/accounts';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { parseProviders } from '@nanobill/providers';
import { startProviderSimulator } from '@nanobill/provider-simulator';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger, uniqueName } from '@nanobill/testkit';
import {
  startEnforcement,
  type EnforcementOptions,
  type EnforcementService,
} from '../src/index.js';

/** Published price of the one simulated model: $0.50 / $1.50 per million tokens. */
export const MODEL = 'meta-llama/Llama-3.3-70B-Instruct';
/** 1,000 input + 500 output tokens at that price: $0.0005 + $0.00075. */
export const ESTIMATE_PER_REQUEST = 1_250_000n;

/** A provider simulator publishing the model's price on /v1/models, and a registry for it. */
export async function pricedProvider() {
  const simulator = await startProviderSimulator({
    providers: {
      groq: { token: 'token-groq', models: [{ id: MODEL, pricing: { input: 0.5, output: 1.5 } }] },
    },
  });
  process.env.NANOBILL_TEST_TOKEN_GROQ = 'token-groq';
  const registry = parseProviders({
    groq: {
      costUrl: simulator.costUrl('groq'),
      modelsUrl: simulator.modelsUrl('groq'),
      tokenEnv: 'NANOBILL_TEST_TOKEN_GROQ',
    },
    'hf-inference': { hardware: { 'cpu-basic': '0.0000083' } },
  });
  return { simulator, registry };
}

let sequence = 0;

/** A routed LLM request of `userId` with token usage, finished at `at`. */
export function llmEvent(userId: string, at: Date, billTo?: string): RoutedRequestEvent {
  const requestId = `${uniqueName('req')}-${sequence++}`;
  return {
    schemaVersion: 1,
    requestId,
    timestamp: at.toISOString(),
    userId,
    ...(billTo === undefined ? {} : { billTo }),
    provider: 'groq',
    model: MODEL,
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: `groq-${requestId}`,
    status: 200,
    usage: { inputTokens: 1_000, outputTokens: 500 },
  };
}

export const asMessages = (events: RoutedRequestEvent[]) =>
  events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) }));

export async function storeSnapshots(client: ClickHouseClient, snapshots: AccountSnapshot[]) {
  await client.insert({
    table: 'billing.account_snapshots',
    values: snapshots.map(snapshotRow),
    format: 'JSONEachRow',
  });
}

export function org(
  accountId: string,
  effectiveAt: string,
  fields: { members: string[]; limit?: number; disabledProviders?: string[]; webhook?: string },
): AccountSnapshot {
  return {
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    effectiveAt,
    seats: 1,
    members: fields.members,
    ...(fields.limit === undefined ? {} : { spendingLimitNanoUsd: fields.limit }),
    ...(fields.disabledProviders ? { disabledProviders: fields.disabledProviders } : {}),
    ...(fields.webhook ? { alertWebhookUrl: fields.webhook } : {}),
  };
}

export function user(
  accountId: string,
  plan: 'free' | 'pro',
  effectiveAt: string,
): AccountSnapshot {
  return { schemaVersion: 1, accountId, kind: 'user', plan, effectiveAt };
}

/** The statuses of one account, in publication order. */
export const statusesOf = (all: AccountStatus[], accountId: string) =>
  all.filter((s) => s.accountId === accountId);

/** The columns every table about one routed request shares. */
function requestColumns(e: RoutedRequestEvent) {
  return {
    provider: e.provider,
    provider_request_id: e.providerRequestId,
    request_id: e.requestId,
    event_time: e.timestamp,
    user_id: e.userId,
    bill_to: e.billTo ?? null,
    model: e.model,
    task: e.task,
  };
}

/** Ledger rows for `events`, each costing `cost`; `insertedAt` as if stored then (default: now). */
export async function insertLedger(
  client: ClickHouseClient,
  events: RoutedRequestEvent[],
  billedAccount: string,
  cost: bigint,
  insertedAt?: Date,
) {
  await client.insert({
    table: 'billing.ledger_entries',
    format: 'JSONEachRow',
    values: events.map((e) => ({
      ...requestColumns(e),
      priced_at: e.timestamp,
      billed_account: billedAccount,
      attribution: 'org',
      attribution_reason: '',
      cost_nano_usd: cost.toString(),
      cost_source: 'provider_api',
      ...(insertedAt === undefined ? {} : { inserted_at: insertedAt.toISOString() }),
    })),
  });
}

/** Rows of billing.unpriced_entries for `events`: pricing gave up on them (stored at `insertedAt`). */
export async function insertUnpriced(
  client: ClickHouseClient,
  events: RoutedRequestEvent[],
  insertedAt?: Date,
) {
  await client.insert({
    table: 'billing.unpriced_entries',
    format: 'JSONEachRow',
    values: events.map((e) => ({
      ...requestColumns(e),
      first_seen_at: e.timestamp,
      unpriced_at: new Date().toISOString(),
      reason: 'no valid cost before the deadline',
      ...(insertedAt === undefined ? {} : { inserted_at: insertedAt.toISOString() }),
    })),
  });
}

/**
 * Rows of billing.pricing_duplicates for `events`: pricing quarantined them for reusing the
 * provider request id `keptRequestId` keeps (stored at `insertedAt`, default now).
 */
export async function insertQuarantined(
  client: ClickHouseClient,
  events: RoutedRequestEvent[],
  keptRequestId: string,
  insertedAt?: Date,
) {
  await client.insert({
    table: 'billing.pricing_duplicates',
    format: 'JSONEachRow',
    values: events.map((e) => ({
      ...requestColumns(e),
      first_seen_at: e.timestamp,
      quarantined_at: new Date().toISOString(),
      reason: 'duplicate_provider_request_id',
      kept_request_id: keptRequestId,
      alert_id: `unpriced_requests:test:${e.requestId}`,
      ...(insertedAt === undefined ? {} : { inserted_at: insertedAt.toISOString() }),
    })),
  });
}

/** billing.usage rows for `events`, as ingest stores them (stored now). */
export async function insertUsage(client: ClickHouseClient, events: RoutedRequestEvent[]) {
  await client.insert({
    table: 'billing.usage',
    format: 'JSONEachRow',
    values: events.map((e, i) => ({
      ...requestColumns(e),
      provider_request_id: e.providerRequestId ?? null,
      billing_mode: e.billingMode,
      status: e.status,
      input_tokens: e.usage?.inputTokens ?? null,
      output_tokens: e.usage?.outputTokens ?? null,
      schema_version: 1,
      source_partition: 0,
      source_offset: i,
    })),
  });
}

/** Enforcement's three topics, of this test's own, created (the status topic compacted). */
export async function enforcementTopics(kafka: Kafka, prefix: string, statusPartitions = 1) {
  const topics = {
    requests: uniqueName(`${prefix}-requests`),
    accountStatus: uniqueName(`${prefix}-status`),
    alerts: uniqueName(`${prefix}-alerts`),
  };
  await ensureTopics(kafka, [
    { topic: topics.requests, numPartitions: 3 },
    {
      topic: topics.accountStatus,
      numPartitions: statusPartitions,
      configs: { 'cleanup.policy': 'compact' },
    },
    { topic: topics.alerts, numPartitions: 1 },
  ]);
  return topics;
}

/**
 * The enforcement service as the tests run it: quiet, a group of its own, every event timestamp
 * accepted (test clocks run months ago), ticked by the test; `options` for the rest.
 */
export function startTestEnforcement(
  options: Pick<EnforcementOptions, 'kafka' | 'clickhouse' | 'providers' | 'topics'> &
    Partial<EnforcementOptions>,
): Promise<EnforcementService> {
  return startEnforcement({
    logger: quietLogger(),
    metrics: createMetricsRegistry(),
    groupId: uniqueName('enforcement'),
    eventWindow: { maxAgeMs: MAX_EVENT_WINDOW_MS, maxAheadMs: MAX_EVENT_WINDOW_MS },
    tickMs: 0,
    ...options,
  });
}
