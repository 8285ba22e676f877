-- The sweep of ended bundles' stranded steps (sagas.mend_ended_bundles) reads the bundles that ended
-- partially since its last round: few rows of a large table, found without reading the others.
CREATE INDEX IF NOT EXISTS bundles_ended_partially ON bundles (updated_at) WHERE status = 'partially_completed';
