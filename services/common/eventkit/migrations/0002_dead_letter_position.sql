-- A record redelivered after a rebalance or a restart, before its offset was committed, is dead-lettered
-- once (eventkit.consumer looks for its position first): it was recorded and sent to the DLQ topic
-- twice, counted twice by alerts and replayed twice. Not unique: tables written before keep their
-- doubles, for the dlq tool to show.
CREATE INDEX IF NOT EXISTS dead_letters_position ON dead_letters (consumer, topic, partition, "offset");
