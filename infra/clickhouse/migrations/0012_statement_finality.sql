-- Final statements never change (README "Monthly credits and statements"). Before this, drafts
-- and final lines shared billing.statement_lines, a ReplacingMergeTree(computed_at): a draft
-- written by a second (or slow) statements instance after finalization carried a later
-- computed_at and replaced the final line; and two instances finalizing one month with
-- different cut-offs each wrote billing.statement_months, whose merges keep an arbitrary one.

-- Drafts live apart from final lines, so no draft can ever replace one.
CREATE TABLE IF NOT EXISTS billing.statement_drafts AS billing.statement_lines;

-- Every attempt to finalize a month, kept (MergeTree: nothing is merged away). The first claim
-- stored wins, ordered by the server's clock then the claim id; every instance reads the winner
-- back and computes the final lines with the winner's cut-off, so a month has one cut-off.
-- A final statement of month M covers the ledger rows of M (by event_time) with priced_at before
-- M's cut-off, plus the rows of earlier final months E priced during M at or after E's cut-off.
CREATE TABLE IF NOT EXISTS billing.statement_claims
(
    month      String                 COMMENT 'YYYY-MM (UTC)',
    cutoff     DateTime64(3, 'UTC')   COMMENT 'ledger rows of the month priced before this are in its final statement',
    claim_id   String                 COMMENT 'random, per attempt: breaks a tie of claimed_at',
    claimed_at DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'the server''s clock: the first claim wins'
)
ENGINE = MergeTree
ORDER BY (month, claimed_at, claim_id);

-- Months finalized before this migration keep their cut-off (the earliest recorded), as a claim
-- older than any new one. Safe to run again and beside running writers: a month already claimed
-- is left alone.
INSERT INTO billing.statement_claims (month, cutoff, claim_id, claimed_at)
SELECT month, min(finalized_at), 'before-0012', toDateTime64(0, 6, 'UTC')
FROM billing.statement_months
WHERE month NOT IN (SELECT month FROM billing.statement_claims)
GROUP BY month;

-- Final lines from statement_lines (drafts left there by older versions are ignored), drafts only
-- for months not final and accounts without a final line. billing.statement_months gets its row
-- once every account's final line is stored, so until then a month shows its final lines and the
-- last drafts of the accounts whose line could not be computed yet.
CREATE OR REPLACE VIEW billing.statements AS
SELECT * FROM billing.statement_lines FINAL WHERE status = 'final'
UNION ALL
SELECT * FROM billing.statement_drafts FINAL
WHERE month NOT IN (SELECT month FROM billing.statement_months)
  AND (month, account_id) NOT IN (SELECT month, account_id FROM billing.statement_lines WHERE status = 'final');
