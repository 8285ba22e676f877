-- A dossier's document components, one per kind ("<kind>:<digitised><reused><from the store>"): a
-- supplement re-sending a kind replaces it instead of counting a second document. Rows projected
-- before keep adding up as they did (an empty list) until a rebuild replays them.
ALTER TABLE rm_dossiers ADD COLUMN IF NOT EXISTS doc_kinds TEXT[] NOT NULL DEFAULT '{}';
