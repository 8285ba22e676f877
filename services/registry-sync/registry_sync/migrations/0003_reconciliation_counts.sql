-- Counts a reconciliation report gained after the first build (refused_waiting, ...). A build reads
-- the report column into its own report type and fails on a key it does not know: written there, a
-- new count stopped every older replica's periodic reconciliation (during a rolling deploy, and for
-- good after a rollback). They are kept here instead, where only the builds that know them look.
ALTER TABLE reconciliations ADD COLUMN IF NOT EXISTS more_counts JSONB NOT NULL DEFAULT '{}'::jsonb;
