-- +goose Up
-- Webhook endpoints, deliveries and the delivery log (internal/webhook).
-- Shared DDL for SQLite and PostgreSQL: TEXT for JSON, TIMESTAMP holding UTC.

CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations(id),
    test_mode             BOOLEAN NOT NULL,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL,
    enabled_events        TEXT NOT NULL, -- JSON array of types, prefixes (session.*) or "*"
    format                TEXT NOT NULL, -- platform | drive
    status                TEXT NOT NULL, -- enabled | disabled
    disabled_reason       TEXT NOT NULL, -- '' | manual | gone | failing
    -- The signing secret is kept in the clear: HMAC signing needs it.
    secret                TEXT NOT NULL,
    -- After a rotation the previous secret keeps signing until it expires.
    old_secret            TEXT,
    old_secret_expires_at TIMESTAMP,
    -- Set by the first failed attempt after a success, cleared by a success:
    -- the sustained-failure rule disables an endpoint failing for too long.
    failing_since         TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id, test_mode, id);

-- One delivery of one event to one endpoint (a redelivery is a new row). A
-- job of kind webhook.deliver drives each pending delivery.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    test_mode       BOOLEAN NOT NULL,
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    state           TEXT NOT NULL, -- pending | succeeded | failed | canceled
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(state) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries(updated_at);

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    test_mode     BOOLEAN NOT NULL,
    endpoint_id   TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    succeeded     BOOLEAN NOT NULL,
    status_code   INTEGER NOT NULL, -- 0 when no response arrived
    latency_ms    BIGINT NOT NULL,
    error         TEXT NOT NULL,
    next_retry_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
CREATE INDEX webhook_attempts_event ON webhook_attempts(endpoint_id, event_id, id);
CREATE INDEX webhook_attempts_created ON webhook_attempts(created_at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
