import type { Alert } from '@nanobill/contract';
import { BatchWriter, firstPerKey, type ClickHouseClient } from '@nanobill/clickhouse';
import { ALERT_LOG_COLUMNS, ALERT_TABLES, type AlertLogRow } from '@nanobill/tables';

export type { AlertLogRow };

export function alertLogRow(
  alert: Alert,
  body: string,
  webhookUrl: string | undefined,
): AlertLogRow {
  return {
    alert_id: alert.alertId,
    type: alert.type,
    severity: alert.severity,
    account_id: alert.accountId ?? null,
    provider: alert.provider ?? null,
    message: alert.message,
    details: JSON.stringify(alert.details),
    created_at: alert.createdAt,
    body,
    webhook_url: webhookUrl ?? null,
  };
}

/**
 * billing.alert_log, each alert once: an alert id already stored (a re-sent alert, a
 * redelivery) is dropped before the insert. `write` resolves, once the rows are stored, with
 * those really added: the ones to deliver.
 */
export class AlertLog {
  readonly #fresh = new Set<string>();
  readonly #writer: BatchWriter<AlertLogRow>;

  constructor(clickhouse: ClickHouseClient, onError: (error: unknown, rows: number) => void) {
    this.#writer = new BatchWriter<AlertLogRow>({
      clickhouse,
      table: ALERT_TABLES.log,
      columns: ALERT_LOG_COLUMNS,
      maxRows: 1_000,
      maxWaitMs: 100,
      onError,
      beforeInsert: async (rows) => {
        const unique = firstPerKey(rows, (row) => row.alert_id);
        const result = await clickhouse.query({
          query: `SELECT alert_id FROM ${ALERT_TABLES.log}
                  WHERE alert_id IN (SELECT arrayJoin({ids:Array(String)}))`,
          query_params: { ids: unique.map((row) => row.alert_id) },
          format: 'JSONCompactEachRow',
        });
        const stored = new Set((await result.json<[string]>()).map(([id]) => id));
        const fresh = unique.filter((row) => !stored.has(row.alert_id));
        for (const row of fresh) this.#fresh.add(row.alert_id);
        return fresh;
      },
    });
  }

  async write(rows: AlertLogRow[]): Promise<AlertLogRow[]> {
    await this.#writer.write(rows);
    return rows.filter((row) => this.#fresh.delete(row.alert_id));
  }

  close(): Promise<void> {
    return this.#writer.close();
  }
}
