-- The personal identification numbers workflow issued (a birth registration's approval), one row each:
-- a number drawn for a child must not be one another child already holds. Written in the transaction
-- that records the result.
CREATE TABLE IF NOT EXISTS issued_id_numbers (
    id_number   TEXT        PRIMARY KEY,
    dossier_id  TEXT        NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The numbers issued before this table, from the results recorded in the event store (the first
-- dossier to hold one keeps it).
INSERT INTO issued_id_numbers (id_number, dossier_id, issued_at)
SELECT envelope -> 'payload' -> 'data' ->> 'personal_id_number', stream_id, occurred_at
  FROM events
 WHERE event_type = 'ResultIssued' AND envelope -> 'payload' -> 'data' ? 'personal_id_number'
 ORDER BY position
ON CONFLICT (id_number) DO NOTHING
