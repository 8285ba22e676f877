-- Up to when the ended bundles were mended (sagas.mend_ended_bundles), by any replica: a replica's first
-- sweep starts there, not a day back, so bundles an older release stranded before this one started
-- (its own rolling deploy) are mended too: the first sweep of all looks at every bundle ended partially.
CREATE TABLE IF NOT EXISTS bundle_sweeps (
    only_row    BOOLEAN     PRIMARY KEY DEFAULT true CHECK (only_row),
    swept_until TIMESTAMPTZ NOT NULL
);
