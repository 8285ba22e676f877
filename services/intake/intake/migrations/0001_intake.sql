-- intake's own tables come with its issue; the event store, outbox and inbox come from eventkit.
SELECT 1;
