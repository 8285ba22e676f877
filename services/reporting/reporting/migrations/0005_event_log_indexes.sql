-- The live feed at a province's scale (millions of logged events): a stream resumed after a reconnection
-- (Last-Event-ID) reads the events projected after that one, and /v1/events/recent?dossier= finds one
-- dossier's or bundle's events, by id or by its dossier's code. Without these both read the whole log.
CREATE INDEX IF NOT EXISTS rm_event_log_projected ON rm_event_log (projected_at, event_id);
CREATE INDEX IF NOT EXISTS rm_event_log_dossier ON rm_event_log (dossier_id);
CREATE INDEX IF NOT EXISTS rm_event_log_bundle ON rm_event_log (bundle_id) WHERE bundle_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS rm_dossiers_code ON rm_dossiers (code);
