-- +goose Up
-- Shared DDL for SQLite and PostgreSQL: TEXT for JSON, BIGINT for money (cents),
-- TIMESTAMP holding UTC. Every tenant-owned row carries org_id and test_mode and
-- every query filters on both.

CREATE TABLE organizations (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    configurations TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    test_mode    BOOLEAN NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE idempotency_keys (
    org_id        TEXT NOT NULL,
    test_mode     BOOLEAN NOT NULL,
    key           TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER,
    response_body TEXT,
    response_type TEXT,
    locked_until  TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, test_mode, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    test_mode   BOOLEAN NOT NULL,
    type        TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX events_org_id ON events(org_id, test_mode, id);
CREATE INDEX events_org_type ON events(org_id, test_mode, type, id);
CREATE INDEX events_org_object ON events(org_id, test_mode, object_id, id);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    unique_key   TEXT UNIQUE,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       TIMESTAMP NOT NULL,
    locked_by    TEXT,
    locked_until TIMESTAMP,
    last_error   TEXT,
    created_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP
);
CREATE INDEX jobs_ready ON jobs(state, run_at);

CREATE TABLE users (
    id                      TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL REFERENCES organizations(id),
    test_mode               BOOLEAN NOT NULL,
    firstname               TEXT NOT NULL,
    lastname                TEXT NOT NULL,
    email                   TEXT NOT NULL,
    active                  BOOLEAN NOT NULL,
    role                    TEXT NOT NULL,
    address                 TEXT NOT NULL,
    phone                   TEXT NOT NULL,
    favorite_chargestations TEXT NOT NULL,
    metadata                TEXT NOT NULL,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX users_org ON users(org_id, test_mode, id);

CREATE TABLE wallets (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    test_mode   BOOLEAN NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id),
    currency    TEXT NOT NULL,
    auto_top_up TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (user_id, currency)
);

CREATE TABLE locations (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    test_mode     BOOLEAN NOT NULL,
    name          TEXT NOT NULL,
    address       TEXT NOT NULL,
    latitude      DOUBLE PRECISION NOT NULL,
    longitude     DOUBLE PRECISION NOT NULL,
    timezone      TEXT NOT NULL,
    opening_times TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX locations_org ON locations(org_id, test_mode, id);
CREATE INDEX locations_geo ON locations(latitude, longitude);

CREATE TABLE rates (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations(id),
    test_mode  BOOLEAN NOT NULL,
    name       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    tariff     TEXT NOT NULL,
    shorthand  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rates_org ON rates(org_id, test_mode, id);

CREATE TABLE chargestations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    test_mode        BOOLEAN NOT NULL,
    location_id      TEXT NOT NULL REFERENCES locations(id),
    identity         TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    protocol         TEXT NOT NULL,
    auth_key_hash    TEXT,
    capabilities     TEXT NOT NULL,
    online           BOOLEAN NOT NULL,
    last_seen_at     TIMESTAMP,
    boot_info        TEXT NOT NULL,
    sandbox_behavior TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX chargestations_org ON chargestations(org_id, test_mode, id);
CREATE INDEX chargestations_location ON chargestations(location_id);

CREATE TABLE connectors (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL,
    test_mode         BOOLEAN NOT NULL,
    chargestation_id  TEXT NOT NULL REFERENCES chargestations(id),
    connector_number  INTEGER NOT NULL,
    evse_id           TEXT NOT NULL,
    standard          TEXT NOT NULL,
    format            TEXT NOT NULL,
    power_type        TEXT NOT NULL,
    max_power_w       BIGINT NOT NULL,
    status            TEXT NOT NULL,
    status_updated_at TIMESTAMP,
    rate_id           TEXT REFERENCES rates(id),
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (chargestation_id, connector_number)
);
CREATE INDEX connectors_org ON connectors(org_id, test_mode, id);
CREATE INDEX connectors_evse ON connectors(org_id, test_mode, evse_id);

-- +goose Down
DROP TABLE connectors;
DROP TABLE chargestations;
DROP TABLE rates;
DROP TABLE locations;
DROP TABLE wallets;
DROP TABLE users;
DROP TABLE jobs;
DROP TABLE events;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE organizations;
