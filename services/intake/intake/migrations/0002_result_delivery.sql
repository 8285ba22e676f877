-- How the citizen receives the result (counter, postal or online), for the receipt's promise and the
-- citizen's view; dossiers submitted before it were all collected at the counter. The postal address
-- is not kept here: the view is readable by anyone with the code.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS delivery TEXT NOT NULL DEFAULT 'counter';
