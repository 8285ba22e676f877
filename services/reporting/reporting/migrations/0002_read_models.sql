-- Read models: one row per dossier and per bundle, and the log of every projected event.
-- A rebuild creates copies of these three tables (LIKE ... INCLUDING ALL), fills them from the topics
-- and swaps them in by renaming, in one transaction; so only these three may hold projected state.

CREATE TABLE IF NOT EXISTS rm_dossiers (
    dossier_id TEXT PRIMARY KEY,
    code TEXT,
    procedure_code TEXT,
    field TEXT,
    channel TEXT,
    receiving_agency TEXT,
    competent_agency TEXT,
    agency TEXT,
    bundle_id TEXT,
    bundle_step TEXT,
    fee BIGINT NOT NULL DEFAULT 0,
    obligation_amount BIGINT NOT NULL DEFAULT 0,
    paid BOOLEAN NOT NULL DEFAULT false,
    paid_online BOOLEAN NOT NULL DEFAULT false,
    submitted_at TIMESTAMPTZ,
    intake_received_at TIMESTAMPTZ,
    intake_due_at TIMESTAMPTZ,
    received_at TIMESTAMPTZ,
    due_at TIMESTAMPTZ,
    first_due_at TIMESTAMPTZ,
    apology_due_at TIMESTAMPTZ,
    status TEXT,
    status_code SMALLINT,
    status_at TIMESTAMPTZ,
    status_rank SMALLINT NOT NULL DEFAULT 0,
    ended_at TIMESTAMPTZ,
    end_kind TEXT,
    returned_at TIMESTAMPTZ,
    on_time_flag BOOLEAN,
    supplement_requests INTEGER NOT NULL DEFAULT 0,
    paused_since TIMESTAMPTZ,
    paused_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    overdue_flagged BOOLEAN NOT NULL DEFAULT false,
    apology_letters INTEGER NOT NULL DEFAULT 0,
    withdrawal_requested_at TIMESTAMPTZ,
    docs_total INTEGER NOT NULL DEFAULT 0,
    docs_digitized INTEGER NOT NULL DEFAULT 0,
    docs_reused INTEGER NOT NULL DEFAULT 0,
    docs_national_store INTEGER NOT NULL DEFAULT 0,
    result_code TEXT,
    result_electronic BOOLEAN NOT NULL DEFAULT false,
    rating_score SMALLINT,
    rating_complaint BOOLEAN NOT NULL DEFAULT false,
    rated_at TIMESTAMPTZ,
    portal_syncs INTEGER NOT NULL DEFAULT 0,
    portal_sync_failures INTEGER NOT NULL DEFAULT 0,
    portal_first_synced_at TIMESTAMPTZ,
    portal_lag_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    portal_lag_max DOUBLE PRECISION NOT NULL DEFAULT 0,
    population_data_used BOOLEAN NOT NULL DEFAULT false,
    registry_commands INTEGER NOT NULL DEFAULT 0,
    registry_failures INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    last_event_at TIMESTAMPTZ,
    outcome TEXT,
    resolution_days DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS rm_bundles (
    bundle_id TEXT PRIMARY KEY,
    bundle_type TEXT,
    channel TEXT,
    receiving_agency TEXT,
    submitted_at TIMESTAMPTZ,
    steps_total INTEGER NOT NULL DEFAULT 0,
    steps_started INTEGER NOT NULL DEFAULT 0,
    ended_at TIMESTAMPTZ,
    outcome TEXT,
    failed_step TEXT,
    events INTEGER NOT NULL DEFAULT 0,
    e2e_days DOUBLE PRECISION,
    e2e_seconds DOUBLE PRECISION
);

-- Every event applied to the tables above, once: live projection and rebuild both skip an event id
-- already here, so the events a rebuild covered are not applied again by the live consumer after the swap.
CREATE TABLE IF NOT EXISTS rm_event_log (
    event_id UUID PRIMARY KEY,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    producer TEXT NOT NULL,
    key TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    dossier_id TEXT,
    bundle_id TEXT,
    agency TEXT,
    code TEXT,
    projected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS rm_event_log_occurred ON rm_event_log (occurred_at);
