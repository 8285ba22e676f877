-- Registry commands received from workflow, and where each stands with its external system.
-- next_attempt_at is both the retry schedule and the lease of the worker that claimed a command.
CREATE TABLE registry_commands (
    command_id TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    operation TEXT NOT NULL,
    dossier_id TEXT NOT NULL,
    bundle_id TEXT,
    step_id TEXT,
    agency TEXT,
    data JSONB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    first_attempt_at TIMESTAMPTZ,
    last_error TEXT,
    error_code TEXT,
    last_http_status INTEGER,
    result JSONB,
    requested_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    correlation_id TEXT NOT NULL,
    causation_id TEXT NOT NULL
);
CREATE INDEX registry_commands_due ON registry_commands (system, next_attempt_at) WHERE status = 'pending';
CREATE INDEX registry_commands_dossier ON registry_commands (dossier_id);

-- Our copy of each dossier as the national portal must have it, and its synchronisation state.
CREATE TABLE portal_dossiers (
    dossier_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    state INTEGER,
    ready BOOLEAN NOT NULL,
    record JSONB NOT NULL,
    revision INTEGER NOT NULL,
    synced_revision INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'synced', 'failed')),
    portal_revision INTEGER,
    generation INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    first_attempt_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    last_error TEXT,
    last_http_status INTEGER,
    changed_at TIMESTAMPTZ NOT NULL,
    unsynced_since TIMESTAMPTZ,
    synced_at TIMESTAMPTZ,
    last_lag_seconds DOUBLE PRECISION,
    correlation_id TEXT,
    causation_id TEXT
);
CREATE INDEX portal_dossiers_due ON portal_dossiers (next_attempt_at) WHERE status = 'pending' AND ready;
CREATE INDEX portal_dossiers_status ON portal_dossiers (status);
CREATE INDEX portal_dossiers_code ON portal_dossiers (code COLLATE "C");

-- What each reconciliation run found and did.
CREATE TABLE reconciliations (
    id BIGSERIAL PRIMARY KEY,
    trigger TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    report JSONB NOT NULL
);
