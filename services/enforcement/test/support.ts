import type { AccountSnapshot, AccountStatus, RoutedRequestEvent } from '@nanobill/contract';
import { snapshotRow } from '@nanobill/accounts';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { parseProviders } from '@nanobill/providers';
import { startProviderSimulator } from '@nanobill/provider-simulator';
import { uniqueName } from '@nanobill/testkit';

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
