import type { AccountSnapshot } from '@nanobill/contract';
import { snapshotRow } from '@nanobill/accounts';
import type { ClickHouseClient } from '@nanobill/clickhouse';

export interface LedgerFixture {
  account: string;
  user: string;
  provider: string;
  model: string;
  task: string;
  at: string;
  cost: bigint;
  inputTokens: number;
  outputTokens: number;
  /** Default: a new one per row (a request priced once). */
  providerRequestId?: string;
}

let n = 0;

export async function insertLedger(client: ClickHouseClient, rows: LedgerFixture[]) {
  await client.insert({
    table: 'billing.ledger_entries',
    format: 'JSONEachRow',
    values: rows.map((r) => ({
      provider: r.provider,
      provider_request_id: r.providerRequestId ?? `pr-${n}`,
      request_id: `req-${n++}`,
      event_time: r.at,
      priced_at: r.at,
      user_id: r.user,
      billed_account: r.account,
      attribution: 'org',
      attribution_reason: '',
      bill_to: r.account,
      model: r.model,
      task: r.task,
      cost_nano_usd: r.cost.toString(),
      cost_source: 'provider_api',
      input_tokens: r.inputTokens,
      output_tokens: r.outputTokens,
    })),
  });
}

export async function insertSnapshots(client: ClickHouseClient, snapshots: AccountSnapshot[]) {
  await client.insert({
    table: 'billing.account_snapshots',
    format: 'JSONEachRow',
    values: snapshots.map(snapshotRow),
  });
}

/** An org's snapshot on the team plan, two seats, effective from October 2026. */
export const org = (accountId: string, fields: Partial<AccountSnapshot> = {}): AccountSnapshot =>
  ({
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    effectiveAt: '2026-10-01T00:00:00.000Z',
    seats: 2,
    members: ['alice', 'bob'],
    ...fields,
  }) as AccountSnapshot;
