-- Usage over time for org admins (PRODUCT.md §8): token counts in the ledger, and an hourly
-- rollup of the ledger that a 30-day graph can read without scanning every priced request.

-- Token usage travels with the request from the event to the ledger, so that usage graphs and
-- cost come from the same rows. NULL: the event carried no usage (non-LLM tasks).
ALTER TABLE billing.pricing_pending ADD COLUMN IF NOT EXISTS input_tokens Nullable(UInt64);
ALTER TABLE billing.pricing_pending ADD COLUMN IF NOT EXISTS output_tokens Nullable(UInt64);
ALTER TABLE billing.ledger_entries ADD COLUMN IF NOT EXISTS input_tokens Nullable(UInt64);
ALTER TABLE billing.ledger_entries ADD COLUMN IF NOT EXISTS output_tokens Nullable(UInt64);

-- A view's columns are fixed when it is created: without this, finance would not see the tokens
-- in billing.ledger. inserted_at stays out, as before (it is plumbing for the enforcement service).
CREATE OR REPLACE VIEW billing.ledger AS
SELECT provider, provider_request_id, request_id, event_time, priced_at, user_id, billed_account,
       attribution, attribution_reason, bill_to, model, task, cost_nano_usd, cost_source,
       input_tokens, output_tokens
FROM billing.ledger_entries FINAL;

-- SummingMergeTree rather than AggregatingMergeTree: every measure is a plain sum, so the columns
-- stay ordinary integers that finance can sum() in SQL, with no -State/-Merge functions. Merges
-- only shrink the table; every read aggregates with sum() ... GROUP BY and is exact before they
-- happen. The key starts with the billed account and the hour, so one org's window is a narrow
-- range of the primary index.
-- Exact as long as each priced request is inserted into billing.ledger_entries once, which the
-- pricing service checks before every insert. The ledger's FINAL also hides a row written twice
-- by a race between two instances; this table cannot, and would count such a row twice.
CREATE TABLE IF NOT EXISTS billing.usage_hourly
(
    billed_account String                 COMMENT 'the account that pays (billing.ledger.billed_account)',
    hour           DateTime('UTC')        COMMENT 'toStartOfHour(event_time)',
    user_id        String                 COMMENT 'the member who made the requests',
    provider       LowCardinality(String),
    model          LowCardinality(String),
    task           LowCardinality(String),
    requests       UInt64                 COMMENT 'priced requests',
    input_tokens   UInt64                 COMMENT 'requests without usage count 0',
    output_tokens  UInt64,
    cost_nano_usd  Int64                  COMMENT 'nano-USD (1e-9 USD)'
)
ENGINE = SummingMergeTree((requests, input_tokens, output_tokens, cost_nano_usd))
PARTITION BY toYYYYMM(hour)
ORDER BY (billed_account, hour, user_id, provider, model, task);

-- Aggregated per insert block, so a batch of priced requests becomes one row per key right away
-- instead of waiting for a merge to fold them.
CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_hourly_mv TO billing.usage_hourly AS
SELECT billed_account, toStartOfHour(event_time, 'UTC') AS hour, user_id, provider, model, task,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.ledger_entries
GROUP BY billed_account, hour, user_id, provider, model, task;

-- The ledger priced before this migration. nanobill applies migrations before it starts the
-- pricing service, so nothing reaches the ledger between the view's creation and this insert.
-- The emptiness check makes a re-run after a crash (before the migration was recorded) harmless.
INSERT INTO billing.usage_hourly
SELECT billed_account, toStartOfHour(event_time, 'UTC') AS hour, user_id, provider, model, task,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.ledger_entries FINAL
WHERE (SELECT count() FROM billing.usage_hourly) = 0
GROUP BY billed_account, hour, user_id, provider, model, task;
