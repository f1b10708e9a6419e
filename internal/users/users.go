// Package users manages drivers: the user object of spec 002, created with a
// wallet (spec 004: new users have one).
package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/wallet"
)

// Address is a user's postal address.
type Address struct {
	StreetAndNumber string `json:"streetAndNumber,omitempty" maxLength:"200"`
	City            string `json:"city,omitempty" maxLength:"100"`
	PostalCode      string `json:"postalCode,omitempty" maxLength:"20"`
	State           string `json:"state,omitempty" maxLength:"100"`
	Country         string `json:"country,omitempty" maxLength:"3"`
}

// Phone holds a user's phone numbers.
type Phone struct {
	Mobile string `json:"mobile,omitempty" maxLength:"32"`
	Work   string `json:"work,omitempty" maxLength:"32"`
	Home   string `json:"home,omitempty" maxLength:"32"`
}

// User is a driver, in the shape of spec 002.
type User struct {
	ID                     string                 `json:"_id"`
	Firstname              string                 `json:"firstname"`
	Lastname               string                 `json:"lastname"`
	Active                 bool                   `json:"active"`
	Address                Address                `json:"address"`
	Phone                  Phone                  `json:"phone"`
	Email                  string                 `json:"email"`
	FavoriteChargestations []string               `json:"favorite_chargestations"`
	Wallet                 *wallet.Wallet         `json:"wallet,omitempty"`
	Role                   string                 `json:"role"`
	PaymentMethods         []wallet.PaymentMethod `json:"payment_methods" doc:"Saved cards (display data only), the default first"`
	Metadata               map[string]string      `json:"metadata"`
	TestMode               bool                   `json:"test_mode"`
	CreatedAt              time.Time              `json:"createdAt"`
	UpdatedAt              time.Time              `json:"updatedAt"`
}

// Input creates a user; on update, absent fields keep their values.
type Input struct {
	Firstname              *string           `json:"firstname,omitempty" maxLength:"100"`
	Lastname               *string           `json:"lastname,omitempty" maxLength:"100"`
	Email                  *string           `json:"email,omitempty" maxLength:"254" format:"email"`
	Active                 *bool             `json:"active,omitempty"`
	Address                *Address          `json:"address,omitempty"`
	Phone                  *Phone            `json:"phone,omitempty"`
	FavoriteChargestations []string          `json:"favorite_chargestations,omitempty" maxItems:"100"`
	Role                   *string           `json:"role,omitempty" enum:"user,admin"`
	Metadata               map[string]string `json:"metadata,omitempty" maxProperties:"50"`
}

func (in Input) apply(u *User) {
	str := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	str(&u.Firstname, in.Firstname)
	str(&u.Lastname, in.Lastname)
	str(&u.Email, in.Email)
	str(&u.Role, in.Role)
	if in.Active != nil {
		u.Active = *in.Active
	}
	if in.Address != nil {
		u.Address = *in.Address
	}
	if in.Phone != nil {
		u.Phone = *in.Phone
	}
	if in.FavoriteChargestations != nil {
		u.FavoriteChargestations = in.FavoriteChargestations
	}
	if in.Metadata != nil {
		u.Metadata = in.Metadata
	}
}

// Service creates and changes users, emitting their events.
type Service struct {
	Outbox *events.Outbox
}

const cols = `id, firstname, lastname, email, active, role, address, phone, favorite_chargestations, metadata, test_mode, created_at, updated_at`

func scan(s interface{ Scan(...any) error }) (User, error) {
	var u User
	var addr, phone, fav, meta string
	if err := s.Scan(&u.ID, &u.Firstname, &u.Lastname, &u.Email, &u.Active, &u.Role, &addr, &phone, &fav, &meta, &u.TestMode, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return u, err
	}
	u.PaymentMethods = []wallet.PaymentMethod{}
	return u, errors.Join(store.FromJSON(addr, &u.Address), store.FromJSON(phone, &u.Phone), store.FromJSON(fav, &u.FavoriteChargestations), store.FromJSON(meta, &u.Metadata))
}

// Create adds a user with a wallet in the organization's currency.
func (s *Service) Create(ctx context.Context, tx *store.Tx, p org.Principal, in Input) (User, error) {
	o, err := org.Get(ctx, tx, p.OrgID)
	if err != nil {
		return User{}, err
	}
	now := store.Now()
	u := User{ID: id.New(), Active: true, Role: "user", FavoriteChargestations: []string{}, PaymentMethods: []wallet.PaymentMethod{},
		Metadata: map[string]string{}, TestMode: p.TestMode, CreatedAt: now, UpdatedAt: now}
	in.apply(&u)
	_, err = tx.ExecContext(ctx, `INSERT INTO users (id, org_id, test_mode, firstname, lastname, email, active, role, address, phone,
		favorite_chargestations, metadata, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)`,
		u.ID, p.OrgID, p.TestMode, u.Firstname, u.Lastname, u.Email, u.Active, u.Role, store.JSON(u.Address), store.JSON(u.Phone),
		store.JSON(u.FavoriteChargestations), store.JSON(u.Metadata), now)
	if err != nil {
		return User{}, fmt.Errorf("users: create: %w", err)
	}
	w, _, err := wallet.Ensure(ctx, tx, p, u.ID, o.Configurations.Currency)
	if err != nil {
		return User{}, err
	}
	u.Wallet = &w
	_, err = s.Outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "user.created", "user", u.ID, u)
	return u, err
}

// Get returns a user with its wallet (if any).
func Get(ctx context.Context, q store.Querier, p org.Principal, userID string) (User, error) {
	u, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM users WHERE id = $1 AND org_id = $2 AND test_mode = $3`, userID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFoundf("user", userID)
	}
	if err != nil {
		return u, fmt.Errorf("users: get %s: %w", userID, err)
	}
	if u.PaymentMethods, err = wallet.ListMethods(ctx, q, p, userID); err != nil {
		return u, err
	}
	u.Wallet, err = wallet.ForUser(ctx, q, p, userID)
	return u, err
}

// Touch emits user.updated for a change made elsewhere to what the user
// object shows (a card saved on a top-up page, a default method changed).
func (s *Service) Touch(ctx context.Context, tx *store.Tx, p org.Principal, userID string) error {
	now := store.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = $1 WHERE id = $2 AND org_id = $3 AND test_mode = $4`, now, userID, p.OrgID, p.TestMode); err != nil {
		return fmt.Errorf("users: touch %s: %w", userID, err)
	}
	u, err := Get(ctx, tx, p, userID)
	if err != nil {
		return err
	}
	_, err = s.Outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "user.updated", "user", u.ID, u)
	return err
}

// Update changes the given fields.
func (s *Service) Update(ctx context.Context, tx *store.Tx, p org.Principal, userID string, in Input) (User, error) {
	u, err := Get(ctx, tx, p, userID)
	if err != nil {
		return u, err
	}
	in.apply(&u)
	u.UpdatedAt = store.Now()
	_, err = tx.ExecContext(ctx, `UPDATE users SET firstname = $1, lastname = $2, email = $3, active = $4, role = $5, address = $6, phone = $7,
		favorite_chargestations = $8, metadata = $9, updated_at = $10 WHERE id = $11`, u.Firstname, u.Lastname, u.Email, u.Active, u.Role,
		store.JSON(u.Address), store.JSON(u.Phone), store.JSON(u.FavoriteChargestations), store.JSON(u.Metadata), u.UpdatedAt, u.ID)
	if err != nil {
		return u, fmt.Errorf("users: update %s: %w", userID, err)
	}
	_, err = s.Outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "user.updated", "user", u.ID, u)
	return u, err
}

// EnsureWallet implements GET /users/{id}/wallet of spec 002: it creates the
// wallet when the user has none and returns the user with it.
func (s *Service) EnsureWallet(ctx context.Context, tx *store.Tx, p org.Principal, userID string) (User, error) {
	u, err := Get(ctx, tx, p, userID)
	if err != nil || u.Wallet != nil {
		return u, err
	}
	o, err := org.Get(ctx, tx, p.OrgID)
	if err != nil {
		return u, err
	}
	w, _, err := wallet.Ensure(ctx, tx, p, userID, o.Configurations.Currency)
	if err != nil {
		return u, err
	}
	u.Wallet = &w
	u.UpdatedAt = store.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = $1 WHERE id = $2`, u.UpdatedAt, u.ID); err != nil {
		return u, fmt.Errorf("users: touch %s: %w", userID, err)
	}
	_, err = s.Outbox.Emit(ctx, tx, p.OrgID, p.TestMode, "user.updated", "user", u.ID, u)
	return u, err
}

// List pages through users, newest first (without wallets).
func List(ctx context.Context, q store.Querier, p org.Principal, email, cursor string, limit int) ([]User, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM users WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3)
		AND ($4 = '' OR email = $4) ORDER BY id DESC LIMIT $5`, p.OrgID, p.TestMode, cursor, email, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("users: list: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("users: list: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("users: list: %w", err)
	}
	rows.Close() // free the connection before the next query (q may be a transaction)
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	ids := make([]string, len(out))
	for i, u := range out {
		ids[i] = u.ID
	}
	methods, err := wallet.MethodsOf(ctx, q, p, ids)
	if err != nil {
		return nil, false, err
	}
	for i := range out {
		if ms := methods[out[i].ID]; ms != nil {
			out[i].PaymentMethods = ms
		}
	}
	return out, more, nil
}
