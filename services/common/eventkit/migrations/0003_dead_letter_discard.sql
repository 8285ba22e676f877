-- A dead letter an operator decides is not to be replayed (an event of a test, one a later event made
-- pointless, bytes that will never parse) stayed waiting for good: listed, sent again by `replay --all`,
-- and counted by the dead_letters_waiting gauge, so DeadLettersWaiting never stopped. `python -m
-- eventkit.dlq discard` marks it, with the operator's reason; the row is kept, as a replayed one is.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS discarded_at TIMESTAMPTZ;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS discard_reason TEXT;
