-- Duplicate detection's digest of a subject takes letter case, the place of a word's tone mark and
-- the legacy "Ð" as one since this edition (intake.domain.text.canonical: rule 2). Open dossiers
-- written before have digests made by rule 1: intake makes them again at start-up
-- (intake.adapters.subjects), setting subject_rule as it goes. Rows written from now on are made by
-- the new rule: the default below must be intake.adapters.subjects.SUBJECT_RULE.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS subject_rule SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE dossiers ALTER COLUMN subject_rule SET DEFAULT 2;
CREATE INDEX IF NOT EXISTS dossiers_subject_rule_behind ON dossiers (dossier_id)
    WHERE subject_key IS NOT NULL AND subject_rule < 2;
