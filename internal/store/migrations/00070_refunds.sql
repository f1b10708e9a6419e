-- +goose Up
-- Refunds of a session's payment. A pending refund counts against what can
-- still be refunded, so concurrent refunds never return more than was taken.
CREATE TABLE session_refunds (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    amount     BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    status     TEXT NOT NULL,
    failure    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX session_refunds_session ON session_refunds(session_id);

-- +goose Down
DROP TABLE session_refunds;
