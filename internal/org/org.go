// Package org decides who is asking: organizations (the tenants), their
// configuration, and the API keys that act for them in test or live mode.
package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/store"
)

// Configurations holds every per-organization knob. Durations are whole
// seconds and amounts are cents, as in the spec documents.
type Configurations struct {
	// Session is the minimum available wallet balance to start a wallet session (spec 000).
	Session int64 `json:"session" minimum:"0" doc:"Minimum wallet balance, in cents, to start a wallet session."`
	// MinimumAmountToStartSession is the payment-link pre-authorization (spec 001).
	MinimumAmountToStartSession int64  `json:"minimum_amount_to_start_session" minimum:"1" doc:"Card pre-authorization, in cents, for payment-link sessions."`
	PaymentExpiryTime           int    `json:"payment_expiry_time" minimum:"30" doc:"Seconds a payment link stays payable."`
	TopUpExpiryTime             int    `json:"top_up_expiry_time" minimum:"30" doc:"Seconds a top-up link stays payable."`
	StartWindow                 int    `json:"start_window" minimum:"10" doc:"Seconds after authorization within which the session must start."`
	WaitingToStartTimeout       int    `json:"waiting_to_start_timeout" minimum:"5" doc:"Seconds in waiting_to_start before a session fails."`
	ConnectorStartCooldown      int    `json:"connector_start_cooldown" minimum:"0" doc:"Seconds a connector refuses a new start after a start."`
	StopTimeout                 int    `json:"stop_timeout" minimum:"5" doc:"Seconds in waiting_to_stop before a session becomes stop_failed."`
	AutoStopMargin              int    `json:"auto_stop_margin" minimum:"0" doc:"Extra seconds of accrual at maximum power added to the auto-stop projection."`
	Currency                    string `json:"currency" pattern:"^[A-Z]{3}$" doc:"ISO 4217 currency of new wallets."`
	HeartbeatInterval           int    `json:"heartbeat_interval" minimum:"10" doc:"Seconds between heartbeats asked of chargers at boot."`
	HeartbeatTimeout            int    `json:"heartbeat_timeout" minimum:"3" doc:"Seconds without any message after which a charger is offline."`
	MeterValueInterval          int    `json:"meter_value_interval" minimum:"1" doc:"MeterValueSampleInterval asked of chargers."`
	CappedMeterValueInterval    int    `json:"capped_meter_value_interval" minimum:"1" doc:"Shorter sample interval for sessions with a spending cap."`
	AllowAutoRegistration       bool   `json:"allow_auto_registration" doc:"Accept chargers with unknown identities (test mode only)."`
	DriveSessionType            string `json:"drive_session_type" enum:"postpaid,wallet" doc:"Payment type of sessions started through the Drive API."`
}

// Defaults are the values of DESIGN §4 and the spec documents.
func Defaults() Configurations {
	return Configurations{
		Session:                     2000,
		MinimumAmountToStartSession: 2000,
		PaymentExpiryTime:           300,
		TopUpExpiryTime:             300,
		StartWindow:                 300,
		WaitingToStartTimeout:       120,
		ConnectorStartCooldown:      60,
		StopTimeout:                 60,
		AutoStopMargin:              30,
		Currency:                    "USD",
		HeartbeatInterval:           300,
		HeartbeatTimeout:            900,
		MeterValueInterval:          60,
		CappedMeterValueInterval:    15,
		AllowAutoRegistration:       false,
		DriveSessionType:            "postpaid",
	}
}

// Organization is a tenant.
type Organization struct {
	ID             string         `json:"_id"`
	Name           string         `json:"name"`
	Configurations Configurations `json:"configurations"`
	CreatedAt      time.Time      `json:"createdAt"`
	UpdatedAt      time.Time      `json:"updatedAt"`
}

// Create makes an organization with default configuration.
func Create(ctx context.Context, tx *store.Tx, name string) (Organization, error) {
	now := store.Now()
	o := Organization{ID: id.New(), Name: name, Configurations: Defaults(), CreatedAt: now, UpdatedAt: now}
	cfg, _ := json.Marshal(o.Configurations)
	_, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, configurations, created_at, updated_at) VALUES ($1,$2,$3,$4,$4)`,
		o.ID, o.Name, string(cfg), now)
	if err != nil {
		return Organization{}, fmt.Errorf("org: create: %w", err)
	}
	return o, nil
}

// Get returns an organization. Stored configurations are laid over the
// defaults, so a knob added in a later release has its default for old rows.
func Get(ctx context.Context, q store.Querier, orgID string) (Organization, error) {
	var o Organization
	var cfg string
	err := q.QueryRowContext(ctx, `SELECT id, name, configurations, created_at, updated_at FROM organizations WHERE id = $1`, orgID).
		Scan(&o.ID, &o.Name, &cfg, &o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return o, apperr.NotFoundf("organization", orgID)
	}
	if err != nil {
		return o, fmt.Errorf("org: get %s: %w", orgID, err)
	}
	o.Configurations = Defaults()
	if err := json.Unmarshal([]byte(cfg), &o.Configurations); err != nil {
		return o, fmt.Errorf("org: configurations of %s: %w", orgID, err)
	}
	return o, nil
}

// Update stores a changed organization.
func Update(ctx context.Context, tx *store.Tx, o *Organization) error {
	cfg, _ := json.Marshal(o.Configurations)
	o.UpdatedAt = store.Now()
	_, err := tx.ExecContext(ctx, `UPDATE organizations SET name = $1, configurations = $2, updated_at = $3 WHERE id = $4`,
		o.Name, string(cfg), o.UpdatedAt, o.ID)
	if err != nil {
		return fmt.Errorf("org: update %s: %w", o.ID, err)
	}
	return nil
}

// FirstID returns the oldest organization's id, or "" when there is none.
func FirstID(ctx context.Context, q store.Querier) (string, error) {
	var s string
	err := q.QueryRowContext(ctx, `SELECT id FROM organizations ORDER BY id LIMIT 1`).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("org: first: %w", err)
	}
	return s, nil
}

// Key prefixes name the mode a key acts in.
const (
	TestPrefix = "sk_test_"
	LivePrefix = "sk_live_"
)

// Principal is who a request acts for.
type Principal struct {
	OrgID    string
	TestMode bool
	KeyID    string
}

// NewKey makes a random secret key for the mode.
func NewKey(testMode bool) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	p := LivePrefix
	if testMode {
		p = TestPrefix
	}
	return p + hex.EncodeToString(b[:])
}

// hashKey is SHA-256: keys are 192 random bits, so a slow hash adds nothing
// and a fast one keeps authentication off the hot path's profile.
func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func keyMode(secret string) (testMode bool, ok bool) {
	switch {
	case strings.HasPrefix(secret, TestPrefix):
		return true, len(secret) > len(TestPrefix)+15
	case strings.HasPrefix(secret, LivePrefix):
		return false, len(secret) > len(LivePrefix)+15
	}
	return false, false
}

// APIKey is a stored key: its hash, never its secret.
type APIKey struct {
	ID        string    `json:"_id"`
	OrgID     string    `json:"-"`
	TestMode  bool      `json:"test_mode"`
	Hint      string    `json:"hint"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// AddKey stores secret (made by NewKey, or chosen by an operator such as
// --sandbox-key) for the organization. Adding a key that exists for the
// same organization is a no-op.
func AddKey(ctx context.Context, tx *store.Tx, orgID, name, secret string) (APIKey, error) {
	testMode, ok := keyMode(secret)
	if !ok {
		return APIKey{}, apperr.InvalidField("key", "an API key starts with sk_test_ or sk_live_ followed by at least 16 characters")
	}
	h := hashKey(secret)
	var existingOrg string
	err := tx.QueryRowContext(ctx, `SELECT org_id FROM api_keys WHERE hash = $1`, h).Scan(&existingOrg)
	switch {
	case err == nil && existingOrg == orgID:
		return APIKey{OrgID: orgID, TestMode: testMode}, nil
	case err == nil:
		return APIKey{}, apperr.New(apperr.Conflict, "api_key_taken", "this key belongs to another organization")
	case !errors.Is(err, sql.ErrNoRows):
		return APIKey{}, fmt.Errorf("org: look up key: %w", err)
	}
	k := APIKey{ID: id.New(), OrgID: orgID, TestMode: testMode, Hint: secret[:8] + "…" + secret[len(secret)-4:], Name: name, CreatedAt: store.Now()}
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, test_mode, hash, hint, name, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		k.ID, k.OrgID, k.TestMode, h, k.Hint, k.Name, k.CreatedAt)
	if err != nil {
		return APIKey{}, fmt.Errorf("org: add key: %w", err)
	}
	return k, nil
}

// ErrBadKey is returned by Authenticate for a missing, malformed, unknown or
// revoked key; which of these is not told to the caller.
var ErrBadKey = apperr.New(apperr.Unauthorized, "invalid_api_key", "Invalid API key. Use Authorization: Bearer sk_test_... or sk_live_...")

// Authenticate resolves a secret key to its principal.
func Authenticate(ctx context.Context, q store.Querier, secret string) (Principal, error) {
	if _, ok := keyMode(secret); !ok {
		return Principal{}, ErrBadKey
	}
	var p Principal
	var revoked sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT id, org_id, test_mode, revoked_at FROM api_keys WHERE hash = $1`, hashKey(secret)).
		Scan(&p.KeyID, &p.OrgID, &p.TestMode, &revoked)
	if errors.Is(err, sql.ErrNoRows) || revoked.Valid {
		return Principal{}, ErrBadKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("org: authenticate: %w", err)
	}
	return p, nil
}
