-- +goose Up
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    test_mode        BOOLEAN NOT NULL,
    type             TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    chargestation_id TEXT NOT NULL,
    connector_id     TEXT NOT NULL,
    rate_id          TEXT NOT NULL,
    tariff           TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL,
    remote           BOOLEAN NOT NULL,
    id_tag           TEXT NOT NULL,
    transaction_id   BIGINT,
    target           TEXT NOT NULL,
    cost             TEXT NOT NULL,
    energy_wh        BIGINT NOT NULL,
    start_attempts   INTEGER NOT NULL,
    stop_attempts    INTEGER NOT NULL,
    pause_requested  BOOLEAN NOT NULL,
    failure_reason   TEXT NOT NULL,
    started_at       TIMESTAMP,
    ended_at         TIMESTAMP,
    completed_at     TIMESTAMP,
    version          INTEGER NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX sessions_org ON sessions(org_id, test_mode, id);
CREATE INDEX sessions_user ON sessions(org_id, test_mode, user_id, id);
CREATE INDEX sessions_connector ON sessions(connector_id, created_at);
CREATE INDEX sessions_id_tag ON sessions(id_tag);
CREATE INDEX sessions_transaction ON sessions(transaction_id);

-- The payment of a session (the embedded payment object of spec 000/001).
CREATE TABLE session_payments (
    id                  TEXT PRIMARY KEY,
    session_id          TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    type                TEXT NOT NULL,
    status              TEXT NOT NULL,
    currency            TEXT NOT NULL,
    authorized_amount   BIGINT NOT NULL,
    captured_amount     BIGINT NOT NULL,
    refunded_amount     BIGINT NOT NULL,
    url                 TEXT NOT NULL,
    provider            TEXT NOT NULL,
    provider_payment_id TEXT NOT NULL,
    provider_checkout_id TEXT NOT NULL,
    payment_method      TEXT NOT NULL,
    attempts            INTEGER NOT NULL,
    failure_code        TEXT NOT NULL,
    failure_message     TEXT NOT NULL,
    expires_at          TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

-- Charging periods: a new one starts whenever what the car does changes
-- (charging, paused by us, parking: plugged in but not requesting power).
CREATE TABLE session_periods (
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    seq             INTEGER NOT NULL,
    state           TEXT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    meter_start_wh  BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- Immutable charge detail records (OCPI 2.2.1 CDR shape), one per session.
CREATE TABLE cdrs (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    org_id     TEXT NOT NULL,
    test_mode  BOOLEAN NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Installation-wide settings, e.g. the key that signs receipt URLs.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE cdrs;
DROP TABLE session_periods;
DROP TABLE session_payments;
DROP TABLE sessions;
