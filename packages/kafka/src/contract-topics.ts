import {
  ADMIN_FIELDS,
  AccountSnapshot,
  AccountStatus,
  Alert,
  OrgSettings,
  TOPICS,
  settingsKey,
} from '@nanobill/contract';
import { defineTopic, type MessageSchema, type TopicDefinition } from './publisher.js';

/**
 * The topics nanobill publishes to (docs/contract.md §2, §5–§7), each with its schema and key:
 * every publish goes through one of these, so nothing leaves that its readers would refuse.
 * Tests and overrides take another topic name with `onTopic`.
 */

/** `billing.alerts.v1`, keyed by the deterministic alert id (a re-sent alert is recognised). */
export const ALERTS_TOPIC = keyedBy(TOPICS.alerts, Alert, 'alertId');

/** `billing.account-status.v1` (compacted), keyed by the account id. */
export const ACCOUNT_STATUS_TOPIC = keyedBy(TOPICS.accountStatus, AccountStatus, 'accountId');

/** The hub's snapshots on `billing.accounts.v1`, keyed by the account id. */
export const ACCOUNT_SNAPSHOTS_TOPIC = keyedBy(TOPICS.accounts, AccountSnapshot, 'accountId');

/**
 * An org admin's settings on `billing.accounts.v1`: one field per message, keyed
 * `<org>:<field>`, so that compaction keeps each field's latest value (docs/contract.md §5).
 */
export const ORG_SETTINGS_TOPIC = defineTopic<OrgSettings>({
  topic: TOPICS.accounts,
  schema: OrgSettings,
  key: (settings) => {
    const fields = ADMIN_FIELDS.filter((field) => settings[field] !== undefined);
    if (fields.length !== 1) {
      throw new Error(`nanobill publishes one field per settings message, not ${fields.length}`);
    }
    return settingsKey(settings.accountId, fields[0]!);
  },
});

/** A topic whose messages are keyed by one of their string fields. */
function keyedBy<T extends Record<K, string>, K extends keyof T>(
  topic: string,
  schema: MessageSchema<T>,
  field: K,
): TopicDefinition<T> {
  return defineTopic({ topic, schema, key: (message) => message[field] });
}
