-- The summary's bundles of a period: the bundles that ended before it are most of those kept, and
-- every dashboard refresh read them all (with a sum over each one's steps). Its query keeps only the
-- bundles open or ended since the period's start, through this index.
CREATE INDEX IF NOT EXISTS rm_bundles_ended ON rm_bundles (ended_at);
-- A rebuild's swap asks, under the lock every metrics request waits on, where the live consumer is in
-- each partition: the highest offset in its inbox, which grows by every event consumed (tens of
-- millions at a province's scale, read whole). With this index it is one short look per partition.
-- Built in the migration's transaction: on a large inbox the consumers of the replicas still running
-- wait for the build when this version is deployed (it grows with the inbox).
CREATE INDEX IF NOT EXISTS inbox_positions ON inbox (consumer, topic, partition, "offset");
