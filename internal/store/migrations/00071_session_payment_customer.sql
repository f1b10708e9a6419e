-- +goose Up
-- The provider's customer of the saved method a postpaid session is charged
-- to (Stripe needs it to charge the method off-session; '' in the sandbox).
ALTER TABLE session_payments ADD COLUMN customer TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE session_payments DROP COLUMN customer;
