-- A bundle's step dossiers, for the summary's bundles filtered by field or procedure.
CREATE INDEX IF NOT EXISTS rm_dossiers_bundle ON rm_dossiers (bundle_id) WHERE bundle_id IS NOT NULL;
