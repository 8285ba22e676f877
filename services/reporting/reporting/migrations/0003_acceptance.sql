-- When an online dossier was flagged as neither accepted nor sent back within 8 working hours
-- (workflow's AcceptanceOverdue); NULL if it never was.
ALTER TABLE rm_dossiers ADD COLUMN IF NOT EXISTS acceptance_late_at TIMESTAMPTZ;
