package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Endpoint statuses and the reasons an endpoint is disabled.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"

	ReasonManual  = "manual"  // PATCH {"disabled": true}
	ReasonGone    = "gone"    // the receiver answered 410 Gone
	ReasonFailing = "failing" // every attempt failed for FailureWindow

	FormatPlatform = "platform"
	FormatDrive    = "drive"
)

// DefaultOldSecretTTL is how long the previous secret keeps signing after a
// rotation, unless the request says otherwise.
const DefaultOldSecretTTL = 24 * time.Hour

// Endpoint is a webhook endpoint as the API shows it.
type Endpoint struct {
	ID             string          `json:"_id"`
	URL            string          `json:"url"`
	Description    string          `json:"description"`
	EnabledEvents  []string        `json:"enabled_events"`
	Format         string          `json:"format" enum:"platform,drive"`
	Status         string          `json:"status" enum:"enabled,disabled"`
	DisabledReason string          `json:"disabled_reason,omitempty" enum:"manual,gone,failing" doc:"Why the endpoint is disabled: manual (by the API), gone (it answered 410), failing (sustained failure)"`
	Secret         string          `json:"secret,omitempty" doc:"The signing secret (whsec_...). Only in the answers of create and rotate_secret: store it then."`
	SecretRotation *SecretRotation `json:"secret_rotation,omitempty" doc:"Present while the previous secret still signs"`
	TestMode       bool            `json:"test_mode"`
	CreatedAt      time.Time       `json:"createdAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`

	secret string // the current signing secret; Secret shows it only when just made
}

// SecretRotation tells when the previous secret stops signing.
type SecretRotation struct {
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// EndpointInput creates an endpoint.
type EndpointInput struct {
	URL           string   `json:"url" minLength:"1" maxLength:"2048" doc:"Where to POST events: https:// (or http://). In live mode it must resolve to a public address."`
	EnabledEvents []string `json:"enabled_events" minItems:"1" maxItems:"100" doc:"Event types (session.started), prefixes (session.*), or [\"*\"] for every event"`
	Description   string   `json:"description,omitempty" maxLength:"500"`
	Format        string   `json:"format,omitempty" enum:"platform,drive" doc:"Body format: platform (default), or drive (the Drive API's event format)"`
}

// EndpointPatch changes an endpoint; absent fields keep their values.
type EndpointPatch struct {
	URL           *string  `json:"url,omitempty" minLength:"1" maxLength:"2048"`
	EnabledEvents []string `json:"enabled_events,omitempty" minItems:"1" maxItems:"100"`
	Description   *string  `json:"description,omitempty" maxLength:"500"`
	Format        *string  `json:"format,omitempty" enum:"platform,drive"`
	Disabled      *bool    `json:"disabled,omitempty" doc:"true disables the endpoint; false enables it again (also after Joule disabled it)"`
}

const endpointCols = `id, test_mode, url, description, enabled_events, format, status, disabled_reason,
	secret, old_secret, old_secret_expires_at, created_at, updated_at`

func scanEndpoint(s interface{ Scan(...any) error }) (Endpoint, error) {
	var e Endpoint
	var evs string
	var old sql.NullString
	var oldExp sql.NullTime
	err := s.Scan(&e.ID, &e.TestMode, &e.URL, &e.Description, &evs, &e.Format, &e.Status, &e.DisabledReason,
		&e.secret, &old, &oldExp, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	if old.Valid && oldExp.Valid && oldExp.Time.After(time.Now()) {
		e.SecretRotation = &SecretRotation{PreviousExpiresAt: oldExp.Time.UTC()}
	}
	return e, store.FromJSON(evs, &e.EnabledEvents)
}

// newSecret makes a Standard Webhooks secret: whsec_ and the base64 of 32
// random bytes (the spec asks for 24 to 64).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics if the OS has no randomness)
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// checkURL validates an endpoint URL for the mode. The DNS lookup happens
// here, before any transaction, so that a slow resolver never holds the
// database's write lock.
func (s *Service) checkURL(ctx context.Context, testMode bool, raw string) (string, error) {
	u, err := parseURL(raw)
	if err != nil {
		return "", err
	}
	if !testMode && !s.opt.AllowPrivate {
		if err := checkDestination(ctx, s.resolver, u); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}

func checkFormat(f string) (string, error) {
	switch f {
	case "":
		return FormatPlatform, nil
	case FormatPlatform, FormatDrive:
		return f, nil
	}
	return "", apperr.InvalidField("format", "format must be platform or drive")
}

// Create registers an endpoint for the principal's organization and mode.
// The answer carries the secret; later reads do not.
func (s *Service) Create(ctx context.Context, p org.Principal, in EndpointInput) (Endpoint, error) {
	url, err := s.checkURL(ctx, p.TestMode, in.URL)
	if err != nil {
		return Endpoint{}, err
	}
	evs, err := normalizeEvents(in.EnabledEvents)
	if err != nil {
		return Endpoint{}, err
	}
	format, err := checkFormat(in.Format)
	if err != nil {
		return Endpoint{}, err
	}
	now := store.Now()
	e := Endpoint{ID: id.New(), URL: url, Description: in.Description, EnabledEvents: evs, Format: format, Status: StatusEnabled,
		TestMode: p.TestMode, CreatedAt: now, UpdatedAt: now, secret: newSecret()}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, org_id, test_mode, url, description, enabled_events, format, status,
			disabled_reason, secret, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'',$9,$10,$10)`,
			e.ID, p.OrgID, p.TestMode, e.URL, e.Description, store.JSON(e.EnabledEvents), e.Format, e.Status, e.secret, now)
		forgetEndpoints(tx, p.OrgID, p.TestMode)
		return err
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook: create endpoint: %w", err)
	}
	e.Secret = e.secret
	return e, nil
}

// Get returns an endpoint of the principal's organization and mode.
func Get(ctx context.Context, q store.Querier, p org.Principal, endpointID string) (Endpoint, error) {
	return getEndpoint(ctx, q, p, endpointID, "")
}

func getEndpoint(ctx context.Context, q store.Querier, p org.Principal, endpointID, lock string) (Endpoint, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE id = $1 AND org_id = $2 AND test_mode = $3`+lock, endpointID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return e, apperr.NotFoundf("webhook_endpoint", endpointID)
	}
	if err != nil {
		return e, fmt.Errorf("webhook: get endpoint %s: %w", endpointID, err)
	}
	return e, nil
}

// List pages through the principal's endpoints, newest first.
func List(ctx context.Context, q store.Querier, p org.Principal, cursor string, limit int) ([]Endpoint, bool, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := q.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE org_id = $1 AND test_mode = $2
		AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`, p.OrgID, p.TestMode, cursor, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("webhook: list endpoints: %w", err)
	}
	defer rows.Close()
	var out []Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, false, fmt.Errorf("webhook: list endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("webhook: list endpoints: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Update changes the given fields.
func (s *Service) Update(ctx context.Context, p org.Principal, endpointID string, in EndpointPatch) (Endpoint, error) {
	var url string
	if in.URL != nil {
		var err error
		if url, err = s.checkURL(ctx, p.TestMode, *in.URL); err != nil {
			return Endpoint{}, err
		}
	}
	var evs []string
	if in.EnabledEvents != nil {
		var err error
		if evs, err = normalizeEvents(in.EnabledEvents); err != nil {
			return Endpoint{}, err
		}
	}
	var e Endpoint
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if e, err = getEndpoint(ctx, tx, p, endpointID, s.db.ForUpdate()); err != nil {
			return err
		}
		// A new URL, or enabling again, starts the failure history afresh.
		resetFailures := false
		if in.URL != nil {
			resetFailures = e.URL != url
			e.URL = url
		}
		if evs != nil {
			e.EnabledEvents = evs
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.Format != nil {
			if e.Format, err = checkFormat(*in.Format); err != nil {
				return err
			}
		}
		switch {
		case in.Disabled == nil:
		case *in.Disabled:
			if e.Status == StatusEnabled {
				e.Status, e.DisabledReason = StatusDisabled, ReasonManual
			}
		case e.Status == StatusDisabled:
			e.Status, e.DisabledReason, resetFailures = StatusEnabled, "", true
		}
		e.UpdatedAt = store.Now()
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3, format = $4, status = $5,
			disabled_reason = $6, updated_at = $7, failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END WHERE id = $9`,
			e.URL, e.Description, store.JSON(e.EnabledEvents), e.Format, e.Status, e.DisabledReason, e.UpdatedAt, resetFailures, e.ID)
		if err != nil {
			return fmt.Errorf("webhook: update endpoint %s: %w", e.ID, err)
		}
		forgetEndpoints(tx, p.OrgID, p.TestMode)
		return nil
	})
	return e, err
}

// RotateSecret gives the endpoint a new secret. The previous one keeps
// signing (a second v1 signature) for oldTTL, so that receivers can deploy
// the new secret without rejecting deliveries in between; 0 retires it at
// once. A rotation during a grace period drops the secret before the
// previous one.
func (s *Service) RotateSecret(ctx context.Context, p org.Principal, endpointID string, oldTTL time.Duration) (Endpoint, error) {
	var e Endpoint
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if e, err = getEndpoint(ctx, tx, p, endpointID, s.db.ForUpdate()); err != nil {
			return err
		}
		now := store.Now()
		var old, oldExp any
		e.SecretRotation = nil
		if oldTTL > 0 {
			old, oldExp = e.secret, now.Add(oldTTL)
			e.SecretRotation = &SecretRotation{PreviousExpiresAt: now.Add(oldTTL)}
		}
		e.secret, e.UpdatedAt = newSecret(), now
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = $1, old_secret = $2, old_secret_expires_at = $3, updated_at = $4
			WHERE id = $5`, e.secret, old, oldExp, now, e.ID)
		if err != nil {
			return fmt.Errorf("webhook: rotate secret of %s: %w", e.ID, err)
		}
		return nil
	})
	e.Secret = e.secret
	return e, err
}

// Delete removes an endpoint with its pending deliveries and its log. Jobs
// of deleted deliveries find nothing to do and complete.
func (s *Service) Delete(ctx context.Context, p org.Principal, endpointID string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2 AND test_mode = $3`, endpointID, p.OrgID, p.TestMode)
		if err != nil {
			return fmt.Errorf("webhook: delete endpoint %s: %w", endpointID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFoundf("webhook_endpoint", endpointID)
		}
		forgetEndpoints(tx, p.OrgID, p.TestMode)
		for _, table := range []string{"webhook_deliveries", "webhook_attempts"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE endpoint_id = $1`, endpointID); err != nil {
				return fmt.Errorf("webhook: delete %s of %s: %w", table, endpointID, err)
			}
		}
		return nil
	})
}
