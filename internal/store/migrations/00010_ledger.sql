-- +goose Up
-- The double-entry ledger (DESIGN §4, docs/ledger.md). Shared DDL for SQLite and
-- PostgreSQL: BIGINT for money (cents), BOOLEAN, TIMESTAMP holding UTC written
-- from Go. Transfers and entries are append-only; the only row ever updated is
-- an account's running totals, in the same transaction as the transfer that
-- moves them.

CREATE TABLE ledger_accounts (
    id                             TEXT PRIMARY KEY,
    org_id                         TEXT NOT NULL,
    test_mode                      BOOLEAN NOT NULL,
    kind                           TEXT NOT NULL,
    currency                       TEXT NOT NULL,
    debits_must_not_exceed_credits BOOLEAN NOT NULL,
    credits_must_not_exceed_debits BOOLEAN NOT NULL,
    debits_posted                  BIGINT NOT NULL,
    credits_posted                 BIGINT NOT NULL,
    debits_pending                 BIGINT NOT NULL,
    credits_pending                BIGINT NOT NULL,
    -- Number of entries: the seq of the account's latest entry, and the
    -- optimistic version checked by every update of the totals.
    last_seq                       BIGINT NOT NULL,
    created_at                     TIMESTAMP NOT NULL,
    CHECK (debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0),
    CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
    -- The database itself refuses an overdraft, whatever code path writes.
    CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
    CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)
);

CREATE TABLE ledger_transfers (
    id                TEXT PRIMARY KEY, -- the caller's idempotency key
    org_id            TEXT NOT NULL,
    test_mode         BOOLEAN NOT NULL,
    debit_account_id  TEXT NOT NULL REFERENCES ledger_accounts(id),
    credit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
    amount            BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    kind              TEXT NOT NULL,
    -- single: posted at once; pending: a hold; post/void: resolves the hold
    -- named by pending_id. UNIQUE(pending_id) resolves each hold at most once.
    phase             TEXT NOT NULL,
    pending_id        TEXT UNIQUE REFERENCES ledger_transfers(id),
    expires_at        TIMESTAMP,
    reference_type    TEXT NOT NULL,
    reference_id      TEXT NOT NULL,
    description       TEXT NOT NULL,
    metadata          TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    CHECK (amount > 0),
    CHECK (debit_account_id <> credit_account_id),
    CHECK (phase IN ('single', 'pending', 'post', 'void')),
    CHECK ((phase IN ('post', 'void')) = (pending_id IS NOT NULL)),
    CHECK (expires_at IS NULL OR phase = 'pending')
);

-- One row per (transfer, account it touches), numbered per account in commit
-- order (seq is assigned under the account's lock), with the account's totals
-- right after the transfer: the account's statement with running balances.
CREATE TABLE ledger_entries (
    account_id      TEXT NOT NULL REFERENCES ledger_accounts(id),
    seq             BIGINT NOT NULL,
    transfer_id     TEXT NOT NULL REFERENCES ledger_transfers(id),
    debits_posted   BIGINT NOT NULL,
    credits_posted  BIGINT NOT NULL,
    debits_pending  BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (transfer_id, account_id)
);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_transfers;
DROP TABLE ledger_accounts;
