-- What workflow's payment requests asked for (PaymentRequested amounts, summed): with the fee and
-- what was paid, what the citizen owes, so that a payment is never taken for nothing or beyond it.
-- Dossiers from before this column have it NULL, "not known" (their requests were not counted), and
-- for them a payment is taken as before; new ones start at 0.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS requested_amount BIGINT;
ALTER TABLE dossiers ALTER COLUMN requested_amount SET DEFAULT 0
