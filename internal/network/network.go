// Package network is the charging network an organization operates:
// locations, the charge stations at them and the connectors (EVSEs) of each
// station, with their OCPP identity, credentials, capabilities and status.
package network

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Address is a location's postal address.
type Address struct {
	StreetAndNumber string `json:"streetAndNumber" maxLength:"200"`
	City            string `json:"city" maxLength:"100"`
	PostalCode      string `json:"postalCode,omitempty" maxLength:"20"`
	State           string `json:"state,omitempty" maxLength:"100"`
	Country         string `json:"country" pattern:"^[A-Z]{3}$" doc:"ISO 3166-1 alpha-3"`
}

// Coordinates are WGS 84 degrees.
type Coordinates struct {
	Latitude  float64 `json:"latitude" minimum:"-90" maximum:"90"`
	Longitude float64 `json:"longitude" minimum:"-180" maximum:"180"`
}

// OpeningTimes says when a location is open (OCPI Hours).
type OpeningTimes struct {
	TwentyFourSeven bool           `json:"twentyfourseven"`
	RegularHours    []RegularHours `json:"regular_hours,omitempty"`
}

// RegularHours is one weekday's opening period.
type RegularHours struct {
	Weekday     int    `json:"weekday" minimum:"1" maximum:"7" doc:"1 = Monday"`
	PeriodBegin string `json:"period_begin" pattern:"^([01][0-9]|2[0-3]):[0-5][0-9]$"`
	PeriodEnd   string `json:"period_end" pattern:"^([01][0-9]|2[0-4]):[0-5][0-9]$"`
}

// Location is a site with charge stations.
type Location struct {
	ID           string       `json:"_id"`
	Name         string       `json:"name"`
	Address      Address      `json:"address"`
	Coordinates  Coordinates  `json:"coordinates"`
	Timezone     string       `json:"timezone"`
	OpeningTimes OpeningTimes `json:"opening_times"`
	TestMode     bool         `json:"test_mode"`
	CreatedAt    time.Time    `json:"createdAt"`
	UpdatedAt    time.Time    `json:"updatedAt"`
}

// LocationInput creates or replaces a location's fields.
type LocationInput struct {
	Name         string        `json:"name" minLength:"1" maxLength:"200"`
	Address      Address       `json:"address"`
	Coordinates  Coordinates   `json:"coordinates"`
	Timezone     string        `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone; tariff restrictions are evaluated in it (default UTC)"`
	OpeningTimes *OpeningTimes `json:"opening_times,omitempty"`
}

func (in *LocationInput) normalize() error {
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(in.Timezone); err != nil {
		return apperr.InvalidField("timezone", "unknown time zone %q (use an IANA name such as Europe/Warsaw)", in.Timezone)
	}
	if in.OpeningTimes == nil {
		in.OpeningTimes = &OpeningTimes{TwentyFourSeven: true}
	}
	return nil
}

const locationCols = `id, name, address, latitude, longitude, timezone, opening_times, test_mode, created_at, updated_at`

func scanLocation(s interface{ Scan(...any) error }) (Location, error) {
	var l Location
	var addr, hours string
	err := s.Scan(&l.ID, &l.Name, &addr, &l.Coordinates.Latitude, &l.Coordinates.Longitude, &l.Timezone, &hours, &l.TestMode, &l.CreatedAt, &l.UpdatedAt)
	if err != nil {
		return l, err
	}
	if err := store.FromJSON(addr, &l.Address); err != nil {
		return l, err
	}
	return l, store.FromJSON(hours, &l.OpeningTimes)
}

// CreateLocation adds a location.
func CreateLocation(ctx context.Context, tx *store.Tx, p org.Principal, in LocationInput) (Location, error) {
	if err := in.normalize(); err != nil {
		return Location{}, err
	}
	now := store.Now()
	l := Location{ID: id.New(), Name: in.Name, Address: in.Address, Coordinates: in.Coordinates, Timezone: in.Timezone,
		OpeningTimes: *in.OpeningTimes, TestMode: p.TestMode, CreatedAt: now, UpdatedAt: now}
	_, err := tx.ExecContext(ctx, `INSERT INTO locations (id, org_id, test_mode, name, address, latitude, longitude, timezone, opening_times, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10)`, l.ID, p.OrgID, p.TestMode, l.Name, store.JSON(l.Address),
		l.Coordinates.Latitude, l.Coordinates.Longitude, l.Timezone, store.JSON(l.OpeningTimes), now)
	if err != nil {
		return Location{}, fmt.Errorf("network: create location: %w", err)
	}
	return l, nil
}

// GetLocation returns a location of the principal's organization and mode.
func GetLocation(ctx context.Context, q store.Querier, p org.Principal, locID string) (Location, error) {
	l, err := scanLocation(q.QueryRowContext(ctx, `SELECT `+locationCols+` FROM locations WHERE id = $1 AND org_id = $2 AND test_mode = $3`, locID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return l, apperr.NotFoundf("location", locID)
	}
	if err != nil {
		return l, fmt.Errorf("network: get location %s: %w", locID, err)
	}
	return l, nil
}

// UpdateLocation replaces a location's fields.
func UpdateLocation(ctx context.Context, tx *store.Tx, p org.Principal, locID string, in LocationInput) (Location, error) {
	if err := in.normalize(); err != nil {
		return Location{}, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE locations SET name = $1, address = $2, latitude = $3, longitude = $4, timezone = $5, opening_times = $6, updated_at = $7
		WHERE id = $8 AND org_id = $9 AND test_mode = $10`, in.Name, store.JSON(in.Address), in.Coordinates.Latitude, in.Coordinates.Longitude,
		in.Timezone, store.JSON(in.OpeningTimes), store.Now(), locID, p.OrgID, p.TestMode)
	if err := mustAffect(res, err, "location", locID); err != nil {
		return Location{}, err
	}
	return GetLocation(ctx, tx, p, locID)
}

// DeleteLocation removes a location without charge stations.
func DeleteLocation(ctx context.Context, tx *store.Tx, p org.Principal, locID string) error {
	if _, err := GetLocation(ctx, tx, p, locID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM chargestations WHERE location_id = $1`, locID).Scan(&n); err != nil {
		return fmt.Errorf("network: count stations: %w", err)
	}
	if n > 0 {
		return apperr.Newf(apperr.Conflict, "location_in_use", "Location %s still has %d charge station(s); delete them first", locID, n)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM locations WHERE id = $1`, locID)
	return err
}

// ListLocations pages through locations, newest first.
func ListLocations(ctx context.Context, q store.Querier, p org.Principal, cursor string, limit int) ([]Location, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+locationCols+` FROM locations WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3)
		ORDER BY id DESC LIMIT $4`, p.OrgID, p.TestMode, cursor, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("network: list locations: %w", err)
	}
	return collect(rows, limit, scanLocation)
}

// collect reads up to limit rows and reports whether more exist.
func collect[T any](rows *sql.Rows, limit int, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, bool, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("network: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func mustAffect(res sql.Result, err error, object, objID string) error {
	if err != nil {
		return fmt.Errorf("network: update %s %s: %w", object, objID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.NotFoundf(object, objID)
	}
	return nil
}

// Charger credentials: the OCPP security profile 1/2 AuthorizationKey. Only
// a salted SHA-256 is stored; the key is shown once, when set.

var identityRE = regexp.MustCompile(`^[A-Za-z0-9*\-_.:]{1,48}$`)

// NewPassword makes a random charger key (OCPP allows 16-40 characters).
func NewPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func hashPassword(password string) string {
	var salt [8]byte
	_, _ = rand.Read(salt[:])
	h := sha256.Sum256(append(salt[:], password...))
	return hex.EncodeToString(salt[:]) + ":" + hex.EncodeToString(h[:])
}

// CheckPassword compares a charger's key with the stored hash in constant time.
func CheckPassword(stored, password string) bool {
	if len(stored) != 16+1+64 || stored[16] != ':' {
		return false
	}
	salt, err := hex.DecodeString(stored[:16])
	if err != nil {
		return false
	}
	h := sha256.Sum256(append(salt, password...))
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(h[:])), []byte(stored[17:])) == 1
}
