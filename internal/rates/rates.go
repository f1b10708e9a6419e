// Package rates stores the tariffs connectors charge by. A rate is an OCPI
// 2.2.1 tariff, given as such or in the eDRV shorthand of spec 000/001
// (price_components, minimum_amount), which is mapped onto the same engine;
// either way it is validated by the tariff engine before it is stored, so a
// stored rate can always be priced.
package rates

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/tariff"
)

// Rate is a stored tariff.
type Rate struct {
	ID             string
	Name           string
	Currency       string
	Tariff         *tariff.Tariff
	Shorthand      json.RawMessage // the price_components form it was given in, if any
	HasParkingTime bool
	TestMode       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Input is a rate as given: exactly one of Tariff (OCPI JSON) or
// Shorthand (JSON with price_components and minimum_amount).
type Input struct {
	Name      string
	Currency  string
	Tariff    []byte
	Shorthand []byte
}

func (in Input) compile() (*tariff.Tariff, error) {
	switch {
	case len(in.Tariff) > 0 && len(in.Shorthand) > 0:
		return nil, apperr.InvalidField("tariff", "give either tariff (OCPI 2.2.1) or price_components, not both")
	case len(in.Tariff) > 0:
		t, err := tariff.Parse(in.Tariff)
		if err != nil {
			return nil, apperr.InvalidField("tariff", "%s", strings.TrimPrefix(err.Error(), "tariff: "))
		}
		if in.Currency != "" && !strings.EqualFold(in.Currency, t.Currency) {
			return nil, apperr.InvalidField("currency", "currency %s differs from the tariff's %s", in.Currency, t.Currency)
		}
		return t, nil
	case len(in.Shorthand) > 0:
		var sh tariff.Shorthand
		dec := json.NewDecoder(strings.NewReader(string(in.Shorthand)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sh); err != nil {
			return nil, apperr.InvalidField("price_components", "%v", err)
		}
		if sh.Currency == "" {
			sh.Currency = strings.ToUpper(in.Currency)
		}
		t, err := tariff.FromShorthand(sh)
		if err != nil {
			return nil, apperr.InvalidField("price_components", "%s", strings.TrimPrefix(err.Error(), "tariff: "))
		}
		return t, nil
	}
	return nil, apperr.InvalidField("tariff", "a rate needs a tariff (OCPI 2.2.1) or price_components")
}

const cols = `id, name, currency, tariff, shorthand, test_mode, created_at, updated_at`

func scan(s interface{ Scan(...any) error }) (Rate, error) {
	var r Rate
	var t, sh string
	if err := s.Scan(&r.ID, &r.Name, &r.Currency, &t, &sh, &r.TestMode, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	tt, err := tariff.Parse([]byte(t))
	if err != nil {
		return r, fmt.Errorf("rates: stored tariff of %s: %w", r.ID, err)
	}
	r.Tariff, r.HasParkingTime = tt, tt.HasParkingTime()
	if sh != "" {
		r.Shorthand = json.RawMessage(sh)
	}
	return r, nil
}

// Create validates and stores a rate.
func Create(ctx context.Context, tx *store.Tx, p org.Principal, in Input) (Rate, error) {
	t, err := in.compile()
	if err != nil {
		return Rate{}, err
	}
	now := store.Now()
	r := Rate{ID: id.New(), Name: in.Name, Currency: t.Currency, Tariff: t, Shorthand: in.Shorthand, HasParkingTime: t.HasParkingTime(),
		TestMode: p.TestMode, CreatedAt: now, UpdatedAt: now}
	if t.ID == "" {
		t.ID = r.ID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO rates (id, org_id, test_mode, name, currency, tariff, shorthand, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8)`, r.ID, p.OrgID, p.TestMode, r.Name, r.Currency, store.JSON(t), string(in.Shorthand), now)
	if err != nil {
		return Rate{}, fmt.Errorf("rates: create: %w", err)
	}
	return r, nil
}

// Get returns a rate of the principal's organization and mode.
func Get(ctx context.Context, q store.Querier, p org.Principal, rateID string) (Rate, error) {
	r, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM rates WHERE id = $1 AND org_id = $2 AND test_mode = $3`, rateID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.NotFoundf("rate", rateID)
	}
	if err != nil {
		return r, fmt.Errorf("rates: get %s: %w", rateID, err)
	}
	return r, nil
}

// Update replaces a rate's name and tariff. Sessions keep the tariff they
// started with (they copy it), so a change applies to new sessions only.
func Update(ctx context.Context, tx *store.Tx, p org.Principal, rateID string, in Input) (Rate, error) {
	old, err := Get(ctx, tx, p, rateID)
	if err != nil {
		return old, err
	}
	t, err := in.compile()
	if err != nil {
		return old, err
	}
	if t.ID == "" {
		t.ID = rateID
	}
	if in.Name == "" {
		in.Name = old.Name
	}
	_, err = tx.ExecContext(ctx, `UPDATE rates SET name = $1, currency = $2, tariff = $3, shorthand = $4, updated_at = $5 WHERE id = $6`,
		in.Name, t.Currency, store.JSON(t), string(in.Shorthand), store.Now(), rateID)
	if err != nil {
		return old, fmt.Errorf("rates: update %s: %w", rateID, err)
	}
	return Get(ctx, tx, p, rateID)
}

// Delete removes a rate no connector uses.
func Delete(ctx context.Context, tx *store.Tx, p org.Principal, rateID string) error {
	if _, err := Get(ctx, tx, p, rateID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM connectors WHERE rate_id = $1`, rateID).Scan(&n); err != nil {
		return fmt.Errorf("rates: count connectors: %w", err)
	}
	if n > 0 {
		return apperr.Newf(apperr.Conflict, "rate_in_use", "Rate %s is used by %d connector(s); give them another rate first", rateID, n)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM rates WHERE id = $1`, rateID)
	return err
}

// List pages through rates, newest first.
func List(ctx context.Context, q store.Querier, p org.Principal, cursor string, limit int) ([]Rate, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM rates WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`,
		p.OrgID, p.TestMode, cursor, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("rates: list: %w", err)
	}
	defer rows.Close()
	var out []Rate
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, r)
	}
	if len(out) > limit {
		return out[:limit], true, rows.Err()
	}
	return out, false, rows.Err()
}
