-- Facts have owners (PRODUCT.md §5): the hub's snapshots own kind, plan, seats and members; the
-- org admin owns the spending limit, disabled providers and webhook, and nanobill's API publishes
-- what the admin changed as settings messages (`OrgSettings`, `source: "admin"`) on
-- billing.accounts.v1. Readers merge both by owner (packages/attribution/src/history.ts).

-- Snapshots stored from now on are the hub's (`hub`): an admin-owned field they carry is only a
-- seed, one they omit leaves the admin's value as it was. Rows stored before read `legacy`: full
-- snapshots (the hub's, or the old settings route's republished ones) whose admin-owned fields,
-- present or not, were the settings of their time.
ALTER TABLE billing.account_snapshots
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT 'legacy'
    COMMENT 'hub | legacy (stored before facts had owners: a full snapshot)';

-- Every settings message consumed. Append-only; one seen twice is harmless (readers keep one).
CREATE TABLE IF NOT EXISTS billing.account_settings
(
    account_id              String,
    effective_at            DateTime64(3, 'UTC')     COMMENT 'from when these settings are true',
    fields                  Array(LowCardinality(String)) COMMENT 'the fields this message sets; the others are left as they were',
    spending_limit_nano_usd Nullable(Int64)          COMMENT 'NULL: no limit (when fields has spendingLimitNanoUsd)',
    disabled_providers      Array(String),
    alert_webhook_url       Nullable(String)         COMMENT 'NULL: no webhook (when fields has alertWebhookUrl)',
    settings                String                   COMMENT 'the message as received (JSON)',
    ingested_at             DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (account_id, effective_at);
