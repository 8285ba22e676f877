-- When a dossier's processing began: for a later step of a bundle received at the counter, its release
-- (it was received with the bundle and held). Its resolution time counts from then. Rows projected
-- before keep their resolution time, counted from the bundle's reception, until a rebuild replays them.
ALTER TABLE rm_dossiers ADD COLUMN IF NOT EXISTS processing_started_at TIMESTAMPTZ;
