-- When a dossier became late for good: workflow's DossierOverdue, or its second supplement request
-- (the 766 rule). A period's "in progress, overdue" counts only what was late by the period's end, so
-- a month already reported keeps its figures. Dossiers flagged before this column count as late since
-- ever (their old behaviour) until a rebuild replays the moment.
ALTER TABLE rm_dossiers ADD COLUMN IF NOT EXISTS late_since TIMESTAMPTZ;
UPDATE rm_dossiers SET late_since = '-infinity'
 WHERE late_since IS NULL AND (overdue_flagged OR supplement_requests >= 2);
