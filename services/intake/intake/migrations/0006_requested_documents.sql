-- The document kinds an official's latest supplement request names (form 02), while it waits: a
-- supplement must bring them. NULL: none named, or none pending. A build before this one leaves the
-- column as it is: during a rolling deploy a row may keep an earlier request's kinds while the older
-- build records the answer and a new request (the citizen is then asked for those too, until this
-- build records the next request or answer).
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS requested_documents TEXT[];
