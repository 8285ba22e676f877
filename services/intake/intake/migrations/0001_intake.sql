-- intake's own tables; the event store, outbox and inbox come from eventkit.

-- Per-agency daily sequence of dossier codes. Incremented with UPDATE … RETURNING in the
-- submission's transaction: a rolled-back submission gives its number back, so there are no gaps,
-- and the row lock serialises the agency's submissions of the day, so there are no repeats.
CREATE TABLE IF NOT EXISTS dossier_sequences (
    agency       TEXT    NOT NULL,
    day          DATE    NOT NULL,
    last_number  INTEGER NOT NULL CHECK (last_number >= 1),
    PRIMARY KEY (agency, day)
);

-- Idempotency-Key: claimed at the start of the transaction (a concurrent duplicate waits on the
-- primary key), answered at its end; both commit with the dossier or not at all.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key           TEXT        PRIMARY KEY,
    request_hash  TEXT        NOT NULL,
    status_code   INTEGER,
    response      JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);

-- The citizen view of each dossier: written with DossierSubmitted, then moved by the events
-- intake consumes. subject_key is a digest of the procedure's subject while the dossier is open
-- and its procedure allows no repeat; the partial unique index is the duplicate check.
CREATE TABLE IF NOT EXISTS dossiers (
    dossier_id           TEXT        PRIMARY KEY,
    code                 TEXT        NOT NULL UNIQUE,
    procedure_code       TEXT        NOT NULL,
    channel              TEXT        NOT NULL,
    receiving_agency     TEXT        NOT NULL,
    competent_agency     TEXT        NOT NULL,
    current_agency       TEXT        NOT NULL,
    official_id          TEXT,
    status               TEXT        NOT NULL,
    status_code          SMALLINT    NOT NULL,
    subject_key          TEXT,
    submitted_at         TIMESTAMPTZ NOT NULL,
    received_at          TIMESTAMPTZ,
    due_at               TIMESTAMPTZ,
    overdue              BOOLEAN     NOT NULL DEFAULT false,
    awaiting_supplement  BOOLEAN     NOT NULL DEFAULT false,
    fee                  INTEGER     NOT NULL,
    paid_amount          BIGINT      NOT NULL DEFAULT 0,
    rating               SMALLINT,
    withdrawal_requested BOOLEAN     NOT NULL DEFAULT false,
    bundle_id            TEXT,
    bundle_step          TEXT,
    bundle_position      SMALLINT,
    step_started_at      TIMESTAMPTZ,
    results              JSONB       NOT NULL DEFAULT '[]',
    timeline             JSONB       NOT NULL,
    portal_sync          JSONB,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS dossiers_open_subject ON dossiers (procedure_code, subject_key)
    WHERE subject_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS dossiers_bundle ON dossiers (bundle_id) WHERE bundle_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS bundles (
    bundle_id         TEXT        PRIMARY KEY,
    bundle_type       TEXT        NOT NULL,
    channel           TEXT        NOT NULL,
    receiving_agency  TEXT        NOT NULL,
    submitted_at      TIMESTAMPTZ NOT NULL,
    due_at            TIMESTAMPTZ,
    status            TEXT        NOT NULL DEFAULT 'submitted',
    ended_at          TIMESTAMPTZ,
    failed_step       TEXT,
    reason            TEXT
);
