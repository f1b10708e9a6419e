package wallet

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

// PaymentMethod is a saved card: the provider's token (never shown) and the
// card's display data. Card numbers are never stored: the sandbox's page
// reads the number once to decide the test outcome, Stripe's page never
// shows it to Joule at all.
type PaymentMethod struct {
	ID        string    `json:"_id"`
	User      string    `json:"user"`
	Type      string    `json:"type" enum:"card"`
	Brand     string    `json:"brand" doc:"visa, mastercard, amex, discover, ..."`
	Last4     string    `json:"last4"`
	ExpMonth  int       `json:"exp_month"`
	ExpYear   int       `json:"exp_year"`
	Default   bool      `json:"default" doc:"Charged by automatic top-ups and postpaid sessions unless another method is named"`
	Provider  string    `json:"provider" enum:"sandbox,stripe"`
	TestMode  bool      `json:"test_mode"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	OrgID    string `json:"-"`
	Token    string `json:"-"`
	Customer string `json:"-"`
}

// Method is what a provider needs to charge this saved method.
func (m PaymentMethod) Method() payments.Method {
	return payments.Method{Token: m.Token, Customer: m.Customer, Brand: m.Brand, Last4: m.Last4, ExpMonth: m.ExpMonth, ExpYear: m.ExpYear}
}

const methodCols = `id, org_id, test_mode, user_id, provider, token, customer, brand, last4, exp_month, exp_year, is_default, created_at, updated_at`

func scanMethod(s interface{ Scan(...any) error }) (PaymentMethod, error) {
	m := PaymentMethod{Type: "card"}
	err := s.Scan(&m.ID, &m.OrgID, &m.TestMode, &m.User, &m.Provider, &m.Token, &m.Customer, &m.Brand, &m.Last4, &m.ExpMonth, &m.ExpYear,
		&m.Default, &m.CreatedAt, &m.UpdatedAt)
	return m, err
}

// ListMethods returns a user's saved methods, the default first, then newest
// first.
func ListMethods(ctx context.Context, q store.Querier, p org.Principal, userID string) ([]PaymentMethod, error) {
	all, err := MethodsOf(ctx, q, p, []string{userID})
	if err != nil {
		return nil, err
	}
	if all[userID] == nil {
		return []PaymentMethod{}, nil
	}
	return all[userID], nil
}

// MethodsOf returns the saved methods of several users at once (a page of
// users), keyed by user id, each the default first, then newest first.
func MethodsOf(ctx context.Context, q store.Querier, p org.Principal, userIDs []string) (map[string][]PaymentMethod, error) {
	out := make(map[string][]PaymentMethod, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	args := []any{p.OrgID, p.TestMode}
	ph := make([]string, len(userIDs))
	for i, u := range userIDs {
		args = append(args, u)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT `+methodCols+` FROM payment_methods WHERE org_id = $1 AND test_mode = $2
		AND user_id IN (`+strings.Join(ph, ",")+`) ORDER BY is_default DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("wallet: payment methods: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMethod(rows)
		if err != nil {
			return nil, fmt.Errorf("wallet: payment methods: %w", err)
		}
		out[m.User] = append(out[m.User], m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wallet: payment methods: %w", err)
	}
	return out, nil
}

// GetMethod returns one of a user's saved methods.
func GetMethod(ctx context.Context, q store.Querier, p org.Principal, userID, methodID string) (PaymentMethod, error) {
	m, err := scanMethod(q.QueryRowContext(ctx, `SELECT `+methodCols+` FROM payment_methods WHERE id = $1 AND user_id = $2 AND org_id = $3 AND test_mode = $4`,
		methodID, userID, p.OrgID, p.TestMode))
	if notFound(err) {
		return m, apperr.NotFoundf("payment_method", methodID)
	}
	if err != nil {
		return m, fmt.Errorf("wallet: payment method %s: %w", methodID, err)
	}
	return m, nil
}

// userExists checks that a user belongs to the principal's organization and
// mode (404 otherwise, so other organizations' users do not exist).
func userExists(ctx context.Context, q store.Querier, p org.Principal, userID string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1 AND org_id = $2 AND test_mode = $3`, userID, p.OrgID, p.TestMode).Scan(&one)
	if notFound(err) {
		return apperr.NotFoundf("user", userID)
	}
	if err != nil {
		return fmt.Errorf("wallet: user %s: %w", userID, err)
	}
	return nil
}

// ListUserMethods is GET /v1/users/{id}/payment_methods.
func ListUserMethods(ctx context.Context, q store.Querier, p org.Principal, userID string) ([]PaymentMethod, error) {
	if err := userExists(ctx, q, p, userID); err != nil {
		return nil, err
	}
	return ListMethods(ctx, q, p, userID)
}

// saveMethod stores a card the driver chose to save; the user's first
// method becomes the default. Saving a token again returns the stored
// method with created false.
func (s *Service) saveMethod(ctx context.Context, tx *store.Tx, p org.Principal, userID, provider string, pm payments.Method) (created bool, err error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM payment_methods WHERE user_id = $1 AND org_id = $2 AND test_mode = $3`,
		userID, p.OrgID, p.TestMode).Scan(&n); err != nil {
		return false, fmt.Errorf("wallet: count methods of %s: %w", userID, err)
	}
	now := store.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_methods (`+methodCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)
		ON CONFLICT (user_id, provider, token) DO NOTHING`,
		id.New(), p.OrgID, p.TestMode, userID, provider, pm.Token, pm.Customer, pm.Brand, pm.Last4, pm.ExpMonth, pm.ExpYear, n == 0, now)
	if err != nil {
		return false, fmt.Errorf("wallet: save method for %s: %w", userID, err)
	}
	if added, _ := res.RowsAffected(); added == 0 {
		return false, nil
	}
	return true, s.userUpdated(ctx, tx, p, userID)
}

func (s *Service) userUpdated(ctx context.Context, tx *store.Tx, p org.Principal, userID string) error {
	if s.opt.UserUpdated == nil {
		return nil
	}
	return s.opt.UserUpdated(ctx, tx, p, userID)
}

// SetDefaultMethod makes a saved method the user's default.
func (s *Service) SetDefaultMethod(ctx context.Context, tx *store.Tx, p org.Principal, userID, methodID string) (PaymentMethod, error) {
	m, err := GetMethod(ctx, tx, p, userID, methodID)
	if err != nil || m.Default {
		return m, err
	}
	now := store.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET is_default = (id = $1), updated_at = $2 WHERE user_id = $3 AND org_id = $4 AND test_mode = $5`,
		methodID, now, userID, p.OrgID, p.TestMode); err != nil {
		return m, fmt.Errorf("wallet: set default method %s: %w", methodID, err)
	}
	m.Default, m.UpdatedAt = true, now
	return m, s.userUpdated(ctx, tx, p, userID)
}

// DeleteMethod forgets a saved method. If it was the default, the newest
// remaining method becomes the default; wallets whose automatic top-up used
// it have automatic top-up switched off (wallet.updated), since nothing else
// may be charged without the operator saying so.
func (s *Service) DeleteMethod(ctx context.Context, tx *store.Tx, p org.Principal, userID, methodID string) error {
	m, err := GetMethod(ctx, tx, p, userID, methodID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM payment_methods WHERE id = $1`, methodID); err != nil {
		return fmt.Errorf("wallet: delete method %s: %w", methodID, err)
	}
	if m.Default {
		if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET is_default = TRUE, updated_at = $1 WHERE id = (SELECT MAX(id) FROM payment_methods
			WHERE user_id = $2 AND org_id = $3 AND test_mode = $4)`, store.Now(), userID, p.OrgID, p.TestMode); err != nil {
			return fmt.Errorf("wallet: promote default method of %s: %w", userID, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM wallets WHERE user_id = $1 AND org_id = $2 AND test_mode = $3`, userID, p.OrgID, p.TestMode)
	if err != nil {
		return fmt.Errorf("wallet: wallets of %s: %w", userID, err)
	}
	var affected []Wallet
	for rows.Next() {
		w, err := scan(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("wallet: wallets of %s: %w", userID, err)
		}
		if w.AutoTopUp.PaymentMethod != nil && *w.AutoTopUp.PaymentMethod == methodID {
			affected = append(affected, w)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("wallet: wallets of %s: %w", userID, err)
	}
	for _, w := range affected {
		w.AutoTopUp.Active, w.AutoTopUp.PaymentMethod = false, nil
		if err := s.storeAutoTopUp(ctx, tx, w); err != nil {
			return err
		}
	}
	return s.userUpdated(ctx, tx, p, userID)
}

// resolveMethod finds what a top-up or automatic top-up may charge for the
// wallet's user: one of the user's saved methods by id or, in test mode
// only, a provider test token such as pm_card_visa (as Stripe's test mode
// accepts them). The reference is the name the request used.
func resolveMethod(ctx context.Context, q store.Querier, p org.Principal, userID, ref, field string) (payments.Method, error) {
	if m, ok := payments.TestMethod(ref); ok {
		if !p.TestMode {
			return m, apperr.InvalidField(field, "%s is a test payment method; live mode needs a saved payment method", ref)
		}
		return m, nil
	}
	if !id.Valid(ref) {
		return payments.Method{}, apperr.InvalidField(field, "%s must be the _id of one of the user's saved payment methods", field)
	}
	m, err := GetMethod(ctx, q, p, userID, ref)
	if apperr.Is(err, "payment_method_not_found") {
		return payments.Method{}, apperr.InvalidField(field, "%s is not a saved payment method of the wallet's user", field)
	}
	if err != nil {
		return payments.Method{}, err
	}
	return m.Method(), nil
}

// DefaultMethod is the user's default saved method, what to charge
// off-session when the user names none (postpaid sessions); ok is false when
// the user has saved none. Its Method() carries the provider's token and,
// for Stripe, the customer the charge must name.
func DefaultMethod(ctx context.Context, q store.Querier, p org.Principal, userID string) (m PaymentMethod, ok bool, err error) {
	ms, err := ListMethods(ctx, q, p, userID)
	if err != nil || len(ms) == 0 {
		return PaymentMethod{}, false, err
	}
	return ms[0], true, nil // the default sorts first
}
