-- Online dossiers get a timer for their acceptance deadline (8 working hours from submission):
-- when it passes with the dossier still registered, workflow records AcceptanceOverdue.
ALTER TABLE timers DROP CONSTRAINT IF EXISTS timers_kind_check;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check CHECK (kind IN ('due_soon', 'overdue', 'acceptance_overdue'));
