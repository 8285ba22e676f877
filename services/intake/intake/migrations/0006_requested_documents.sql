-- The document kinds an official's latest supplement request names (form 02), while it waits: a
-- supplement must bring them. NULL: none named, none pending, or a row an older build wrote (then any
-- supplement is taken, as before).
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS requested_documents TEXT[];
