-- The metrics API reads one period at a time: the dossiers received in it, those that ended in it, and
-- those open at its end (received before it, ended after it or not yet). Without these indexes every
-- request read the whole table, every year kept: ~5 s for a province's two years (2 million dossiers),
-- whatever the period asked for. The expressions are metrics_sql's _SUBMITTED and _RECEIVED: the
-- planner matches an expression index only as written there.
CREATE INDEX IF NOT EXISTS rm_dossiers_submitted ON rm_dossiers ((coalesce(submitted_at, intake_received_at, received_at)));
CREATE INDEX IF NOT EXISTS rm_dossiers_ended ON rm_dossiers (ended_at, (coalesce(received_at, intake_received_at)));
