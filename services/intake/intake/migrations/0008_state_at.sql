-- When workflow's latest event left each dossier in its status: an event replayed later from the
-- dead-letter topic, older than that, no longer sets the status, the holder, the appointment or the
-- flags back (intake.domain.tracking.as_applied). Rows from before keep NULL until their next event.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS state_at TIMESTAMPTZ;
