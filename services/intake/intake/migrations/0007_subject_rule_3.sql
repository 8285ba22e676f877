-- Duplicate detection's digest of a subject leaves out control characters and the marks Unicode ignores
-- since this edition (intake.domain.text: rule 3); digests made by rule 2 are made again by intake at
-- start-up (intake.adapters.subjects), as 0005 describes. The index that finds them follows the rule.
DROP INDEX IF EXISTS dossiers_subject_rule_behind;
CREATE INDEX IF NOT EXISTS dossiers_subject_rule_behind_3 ON dossiers (dossier_id)
    WHERE subject_key IS NOT NULL AND subject_rule < 3;
