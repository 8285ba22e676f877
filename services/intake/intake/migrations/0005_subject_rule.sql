-- Duplicate detection's digest of a subject takes letter case, the place of a word's tone mark and
-- the legacy "Ð" as one since this edition (intake.domain.text.canonical: rule 2). Rows made by rule 1
-- (written before, or by a pod of the older build still serving during a rolling update) are made
-- again by intake at start-up (intake.adapters.subjects), which sets subject_rule as it goes; this
-- build writes its rule in every row it inserts, so the default is the older rule's.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS subject_rule SMALLINT NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS dossiers_subject_rule_behind ON dossiers (dossier_id)
    WHERE subject_key IS NOT NULL AND subject_rule < 2;
