-- What workflow's payment requests asked for (PaymentRequested amounts, summed): with the fee and
-- what was paid, what the citizen owes, so that a payment is never taken for nothing or beyond it.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS requested_amount BIGINT NOT NULL DEFAULT 0;
