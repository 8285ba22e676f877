-- The personal identification numbers workflow issued (a birth registration's approval), one row each:
-- a number drawn for a child must not be one another child already holds. Written in the transaction
-- that records the result.
CREATE TABLE IF NOT EXISTS issued_id_numbers (
    id_number   TEXT        PRIMARY KEY,
    dossier_id  TEXT        NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
