-- A record redelivered after a rebalance or a restart, before its offset was committed, is dead-lettered
-- once (eventkit.consumer looks for its position and bytes first): it was recorded and sent to the DLQ
-- topic twice, counted twice by alerts and replayed twice. Not unique: tables written before keep their
-- doubles, for the dlq tool to show. published_at says the DLQ topic has it: a letter recorded by a
-- process stopped before it could publish is published by the redelivery (rows from before: NULL, so
-- a redelivery of one publishes it again, as every redelivery did).
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS published_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS dead_letters_position ON dead_letters (consumer, topic, partition, "offset");
