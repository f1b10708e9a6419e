-- +goose Up
-- Counters hand out integers where OCPP needs them (transactionId) with the
-- same SQL on both databases (no SERIAL/AUTOINCREMENT split).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ocpp_transaction', 0);

-- A user's charging keys: the idTags a charger presents (RFID cards, app
-- tokens, and the virtual keys of remote starts).
CREATE TABLE charging_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    test_mode  BOOLEAN NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    id_tag     TEXT NOT NULL,
    type       TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, test_mode, id_tag)
);
CREATE INDEX charging_keys_user ON charging_keys(user_id);

-- One row per OCPP transaction as the charger reported it. The unique key
-- makes a repeated StartTransaction return the same transactionId.
CREATE TABLE ocpp_transactions (
    id               BIGINT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    test_mode        BOOLEAN NOT NULL,
    chargestation_id TEXT NOT NULL,
    connector_id     TEXT,
    connector_number INTEGER NOT NULL,
    id_tag           TEXT NOT NULL,
    id_tag_status    TEXT NOT NULL,
    meter_start      BIGINT NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    meter_stop       BIGINT,
    stopped_at       TIMESTAMP,
    stop_reason      TEXT,
    last_energy_wh   BIGINT NOT NULL,
    last_power_w     BIGINT,
    last_soc         INTEGER,
    last_meter_at    TIMESTAMP NOT NULL,
    session_id       TEXT,
    created_at       TIMESTAMP NOT NULL,
    UNIQUE (chargestation_id, connector_number, id_tag, started_at, meter_start)
);
CREATE INDEX ocpp_transactions_station ON ocpp_transactions(chargestation_id, stopped_at);
CREATE INDEX ocpp_transactions_session ON ocpp_transactions(session_id);

-- Meter samples by the charger's own timestamps (billing uses device time);
-- a repeated sample is ignored.
CREATE TABLE meter_samples (
    transaction_id BIGINT NOT NULL,
    at             TIMESTAMP NOT NULL,
    energy_wh      BIGINT,
    power_w        BIGINT,
    soc            INTEGER,
    PRIMARY KEY (transaction_id, at)
);

-- Messages the central system acknowledged but could not apply (OCPP wants
-- transaction messages acknowledged regardless): kept so operators see them.
CREATE TABLE charger_faults (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    test_mode        BOOLEAN NOT NULL,
    chargestation_id TEXT NOT NULL,
    action           TEXT NOT NULL,
    reason           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX charger_faults_station ON charger_faults(chargestation_id, id);

-- +goose Down
DROP TABLE charger_faults;
DROP TABLE meter_samples;
DROP TABLE ocpp_transactions;
DROP TABLE charging_keys;
DROP TABLE counters;
