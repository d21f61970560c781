-- Spending limits and alerts (PRODUCT.md §6, §7).

-- When a ledger row was stored (set by ClickHouse at insert): the enforcement service follows
-- the ledger by it, reading only what is new rather than the whole month. Rows stored before
-- this migration get the migration's time.
ALTER TABLE billing.ledger_entries
    ADD COLUMN IF NOT EXISTS inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    COMMENT 'when the row was stored: what the enforcement service follows';
ALTER TABLE billing.ledger_entries MATERIALIZE COLUMN inserted_at;
ALTER TABLE billing.ledger_entries
    ADD INDEX IF NOT EXISTS inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1;

-- Every alert published on billing.alerts.v1, once (the alert id is deterministic: a re-sent
-- alert replaces itself), with where it is delivered. Read through billing.alerts.
CREATE TABLE IF NOT EXISTS billing.alert_log
(
    alert_id    String                 COMMENT 'deterministic: type, subject and period, e.g. threshold:2026-11:acme:limit_80',
    type        LowCardinality(String) COMMENT 'spend_threshold | unpriced_requests | cost_endpoint_failing | attribution_fallback | webhook_delivery_failing | dlq_growth',
    severity    LowCardinality(String) COMMENT 'info | warning | critical',
    account_id  Nullable(String),
    provider    Nullable(String),
    message     String,
    details     String                 COMMENT 'JSON',
    created_at  DateTime64(3, 'UTC')   COMMENT 'when the alert was raised',
    body        String                 COMMENT 'the alert exactly as published (JSON): the webhook body',
    webhook_url Nullable(String)       COMMENT 'the webhook it goes to (the account''s, or the operations webhook), as set when logged; NULL: none',
    logged_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY alert_id;

CREATE VIEW IF NOT EXISTS billing.alerts AS
SELECT * FROM billing.alert_log FINAL;

-- One row per webhook delivery attempt. An alert's deliveries end with one 'delivered' or one
-- 'abandoned' row; 'retrying' rows say when the next attempt is due.
CREATE TABLE IF NOT EXISTS billing.alert_deliveries
(
    alert_id        String,
    account_id      Nullable(String),
    url             String,
    attempt         UInt16                        COMMENT '1 for the first attempt',
    attempted_at    DateTime64(3, 'UTC'),
    outcome         LowCardinality(String)        COMMENT 'delivered | retrying | abandoned',
    http_status     Nullable(UInt16)              COMMENT 'NULL when no HTTP answer came',
    error           String                        COMMENT 'empty when delivered',
    duration_ms     UInt32,
    next_attempt_at Nullable(DateTime64(3, 'UTC')) COMMENT 'retrying only'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (alert_id, attempt);
