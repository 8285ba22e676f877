-- The event store, outbox, inbox and dead-letter record every service has in its own schema.

CREATE TABLE IF NOT EXISTS events (
    position        BIGSERIAL   PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    stream_version  INTEGER     NOT NULL CHECK (stream_version >= 1),
    event_id        UUID        NOT NULL UNIQUE,
    event_type      TEXT        NOT NULL,
    event_version   INTEGER     NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    envelope        JSONB       NOT NULL,
    -- Optimistic concurrency: two writers cannot both append version N of one stream.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

-- Messages committed with the state change that caused them, waiting for the relay.
CREATE TABLE IF NOT EXISTS outbox (
    id           BIGSERIAL   PRIMARY KEY,
    topic        TEXT        NOT NULL,
    message_key  TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    value        BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- One row per event a consumer has applied, written in the same transaction as the effect.
CREATE TABLE IF NOT EXISTS inbox (
    consumer      TEXT        NOT NULL,
    event_id      UUID        NOT NULL,
    topic         TEXT        NOT NULL,
    partition     INTEGER     NOT NULL,
    "offset"      BIGINT      NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events a consumer gave up on (also sent to <topic>.dlq), kept so an operator can replay them.
CREATE TABLE IF NOT EXISTS dead_letters (
    id               BIGSERIAL   PRIMARY KEY,
    consumer         TEXT        NOT NULL,
    topic            TEXT        NOT NULL,
    partition        INTEGER     NOT NULL,
    "offset"         BIGINT      NOT NULL,
    message_key      TEXT,
    event_id         UUID,
    event_type       TEXT,
    error            TEXT        NOT NULL,
    attempts         INTEGER     NOT NULL,
    value            BYTEA       NOT NULL,
    dead_lettered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at      TIMESTAMPTZ
);
