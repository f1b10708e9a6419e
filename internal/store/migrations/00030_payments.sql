-- +goose Up
-- Payments: saved payment methods, wallet top-ups, the sandbox provider's own
-- books and the Stripe provider's bookkeeping (internal/payments,
-- internal/wallet, docs/payments.md). Shared DDL for SQLite and PostgreSQL:
-- BIGINT for money (cents), BOOLEAN, TIMESTAMP holding UTC written from Go.
-- No column ever holds a card number: only provider tokens and display data.

CREATE TABLE payment_methods (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    test_mode  BOOLEAN NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    provider   TEXT NOT NULL, -- sandbox | stripe
    token      TEXT NOT NULL, -- the provider's payment method id
    customer   TEXT NOT NULL, -- the provider's customer id ('' in the sandbox)
    brand      TEXT NOT NULL,
    last4      TEXT NOT NULL,
    exp_month  INTEGER NOT NULL,
    exp_year   INTEGER NOT NULL,
    is_default BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, provider, token)
);
CREATE INDEX payment_methods_user ON payment_methods(org_id, test_mode, user_id, id);

CREATE TABLE top_ups (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    test_mode       BOOLEAN NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id),
    wallet_id       TEXT NOT NULL REFERENCES wallets(id),
    type            TEXT NOT NULL, -- manual | manual_with_payment_method | auto
    status          TEXT NOT NULL, -- created | completed | expired | failed
    amount          BIGINT NOT NULL,
    wallet_amount   BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    payment_method  TEXT,          -- Joule payment method id, or a test token (pm_card_visa)
    provider        TEXT NOT NULL,
    checkout_id     TEXT,
    url             TEXT,
    payment_id      TEXT,          -- the provider's payment once known
    failure_code    TEXT,
    failure_message TEXT,
    -- A payment that arrived after the top-up ended is refunded; this records it.
    refunded        BIGINT NOT NULL DEFAULT 0,
    expired_at      TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK (amount > 0 AND wallet_amount >= amount)
);
CREATE INDEX top_ups_org ON top_ups(org_id, test_mode, id);
CREATE INDEX top_ups_wallet ON top_ups(wallet_id, id);
-- At most one automatic top-up in flight per wallet, whatever code path writes.
CREATE UNIQUE INDEX top_ups_one_auto ON top_ups(wallet_id) WHERE type = 'auto' AND status = 'created';

-- The sandbox provider's books: hosted checkouts, payments (authorized,
-- captured, canceled, refunded), saved card tokens, and the idempotency keys
-- of captures, cancels and refunds. Reconciled against the ledger's
-- provider_clearing accounts (payments.Reconcile).
CREATE TABLE sandbox_checkouts (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    org_id          TEXT NOT NULL,
    test_mode       BOOLEAN NOT NULL,
    purpose         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    customer        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    capture_method  TEXT NOT NULL,
    offer_save      BOOLEAN NOT NULL,
    description     TEXT NOT NULL,
    success_url     TEXT NOT NULL,
    cancel_url      TEXT NOT NULL,
    status          TEXT NOT NULL, -- open | paid | expired | canceled
    payment_id      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failure_code    TEXT,
    failure_message TEXT,
    expires_at      TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE sandbox_payments (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    org_id          TEXT NOT NULL,
    test_mode       BOOLEAN NOT NULL,
    checkout_id     TEXT,
    purpose         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    captured        BIGINT NOT NULL,
    refunded        BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    capture_method  TEXT NOT NULL,
    status          TEXT NOT NULL,
    method_token    TEXT NOT NULL,
    brand           TEXT NOT NULL,
    last4           TEXT NOT NULL,
    exp_month       INTEGER NOT NULL,
    exp_year        INTEGER NOT NULL,
    failure_code    TEXT,
    failure_message TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK (amount > 0 AND captured >= 0 AND captured <= amount AND refunded >= 0 AND refunded <= captured)
);
CREATE INDEX sandbox_payments_org ON sandbox_payments(org_id, test_mode, currency);

CREATE TABLE sandbox_methods (
    token      TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    test_mode  BOOLEAN NOT NULL,
    customer   TEXT NOT NULL,
    brand      TEXT NOT NULL,
    last4      TEXT NOT NULL,
    exp_month  INTEGER NOT NULL,
    exp_year   INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE sandbox_operations (
    idempotency_key TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES sandbox_payments(id),
    kind            TEXT NOT NULL, -- capture | cancel | refund
    amount          BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

-- Stripe: events already turned into notifications (webhooks are delivered
-- at least once), and the Stripe customer of each Joule user that saved a card.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);

CREATE TABLE stripe_customers (
    org_id      TEXT NOT NULL,
    test_mode   BOOLEAN NOT NULL,
    user_id     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, test_mode, user_id)
);

-- +goose Down
DROP TABLE stripe_customers;
DROP TABLE stripe_events;
DROP TABLE sandbox_operations;
DROP TABLE sandbox_methods;
DROP TABLE sandbox_payments;
DROP TABLE sandbox_checkouts;
DROP TABLE top_ups;
DROP TABLE payment_methods;
