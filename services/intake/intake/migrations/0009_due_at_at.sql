-- When the appointment shown was set (the time of workflow's event that set it): an event replayed
-- late from the dead-letter topic sets the appointment only if no newer event did. Rows from before
-- keep NULL until an event sets their appointment.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS due_at_at TIMESTAMPTZ;
