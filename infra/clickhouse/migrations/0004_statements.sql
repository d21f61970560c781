-- Monthly statements (PRODUCT.md §5, §8). Amounts in nano-USD (Int64).
-- Lines are recomputed while their month is a draft; a later computation replaces an earlier one
-- (version computed_at), and billing.statements reads them with FINAL. Once a month is final its
-- lines are never recomputed: a late ledger row lands as an adjustment in a later statement.
CREATE TABLE IF NOT EXISTS billing.statement_lines
(
    month                    String                 COMMENT 'YYYY-MM (UTC)',
    account_id               String,
    account_kind             LowCardinality(String) COMMENT 'user | org',
    plan                     LowCardinality(String) COMMENT 'the plan in force at the end of the month',
    gross_nano_usd           Int64                  COMMENT 'routed cost of the month, adjustments included',
    adjustment_nano_usd      Int64                  COMMENT 'late costs of earlier, final months included in gross',
    credits_granted_nano_usd Int64                  COMMENT 'the largest grant held during the month',
    credits_applied_nano_usd Int64                  COMMENT 'min(gross, granted)',
    payable_nano_usd         Int64                  COMMENT 'gross - credits applied (0 for free plans)',
    written_off_nano_usd     Int64                  COMMENT 'free plans: usage past the credits',
    custom_key_requests      UInt64                 COMMENT 'requests with the user''s own provider key (not billed by HF)',
    status                   LowCardinality(String) COMMENT 'draft | final',
    computed_at              DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (month, account_id);

CREATE VIEW IF NOT EXISTS billing.statements AS
SELECT * FROM billing.statement_lines FINAL;

-- When each month became final: ledger rows of that month priced after this instant are
-- adjustments of a later statement.
CREATE TABLE IF NOT EXISTS billing.statement_months
(
    month        String,
    finalized_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY month;
