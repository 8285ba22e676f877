-- Workflow's read models and saga state, written in the same transaction as the events they follow.

-- Dossiers waiting for an official, one row each: GET /v1/tasks?agency=… reads it, soonest due first.
CREATE TABLE IF NOT EXISTS tasks (
    dossier_id      TEXT        PRIMARY KEY,
    agency          TEXT        NOT NULL,
    code            TEXT        NOT NULL,
    procedure_code  TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    status_code     INTEGER     NOT NULL,
    waiting_for     TEXT        NOT NULL,
    due_at          TIMESTAMPTZ NOT NULL,
    appointment_at  TIMESTAMPTZ,
    since           TIMESTAMPTZ NOT NULL,
    bundle_id       TEXT,
    overdue         BOOLEAN     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS tasks_by_agency_due ON tasks (agency, due_at, dossier_id);

-- Durable SLA timers: armed with the events that set a deadline, fired once by the poller
-- (claimed with FOR UPDATE SKIP LOCKED, marked fired in the transaction that appends the event).
CREATE TABLE IF NOT EXISTS timers (
    dossier_id  TEXT        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('due_soon', 'overdue')),
    fire_at     TIMESTAMPTZ NOT NULL,
    fired_at    TIMESTAMPTZ,
    armed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dossier_id, kind)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (fire_at) WHERE fired_at IS NULL;

-- One saga per linked bundle; the row lock serialises everything that moves one bundle on.
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id    TEXT        PRIMARY KEY,
    bundle_type  TEXT        NOT NULL,
    status       TEXT        NOT NULL,
    state        JSONB       NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
