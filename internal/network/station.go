package network

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Capabilities a charge station can have (as the Drive API names them).
const (
	CapRemoteStartStop = "REMOTE_START_STOP_CAPABLE"
	CapRFIDReader      = "RFID_READER"
	CapUnlock          = "UNLOCK_CAPABLE"
	CapChargingProfile = "CHARGING_PROFILE_CAPABLE"
)

// BootInfo is what the station said in its last BootNotification.
type BootInfo struct {
	Vendor          string `json:"vendor,omitempty"`
	Model           string `json:"model,omitempty"`
	SerialNumber    string `json:"serial_number,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
}

// ChargeStation is an OCPP charge point.
type ChargeStation struct {
	ID           string      `json:"_id"`
	Location     string      `json:"location"`
	Identity     string      `json:"identity" doc:"OCPP identity: the charger connects to /ocpp/{identity}"`
	Name         string      `json:"name"`
	Protocol     string      `json:"protocol"`
	Capabilities []string    `json:"capabilities"`
	Online       bool        `json:"online"`
	LastSeenAt   *time.Time  `json:"last_seen_at"`
	BootInfo     BootInfo    `json:"boot_info"`
	Connectors   []Connector `json:"connectors"`
	Password     string      `json:"password,omitempty" doc:"The charger's AuthorizationKey (HTTP Basic password); shown only when set"`
	TestMode     bool        `json:"test_mode"`
	CreatedAt    time.Time   `json:"createdAt"`
	UpdatedAt    time.Time   `json:"updatedAt"`

	// Sandbox is the scripted behaviour of a sandbox virtual charger ("" for real ones).
	Sandbox string `json:"-"`
	OrgID   string `json:"-"`
	keyHash string
}

// StationInput creates a charge station.
type StationInput struct {
	Location     string           `json:"location" pattern:"^[0-9a-f]{24}$"`
	Identity     string           `json:"identity" pattern:"^[A-Za-z0-9*\\-_.:]{1,48}$" doc:"OCPP identity, unique across Joule"`
	Name         string           `json:"name,omitempty" maxLength:"200"`
	Password     string           `json:"password,omitempty" minLength:"16" maxLength:"40" doc:"AuthorizationKey; generated when omitted"`
	Capabilities []string         `json:"capabilities,omitempty" enum:"REMOTE_START_STOP_CAPABLE,RFID_READER,UNLOCK_CAPABLE,CHARGING_PROFILE_CAPABLE"`
	Connectors   []ConnectorInput `json:"connectors,omitempty" maxItems:"32"`
}

// StationPatch changes a station.
type StationPatch struct {
	Name         *string  `json:"name,omitempty" maxLength:"200"`
	Location     *string  `json:"location,omitempty" pattern:"^[0-9a-f]{24}$"`
	Capabilities []string `json:"capabilities,omitempty" enum:"REMOTE_START_STOP_CAPABLE,RFID_READER,UNLOCK_CAPABLE,CHARGING_PROFILE_CAPABLE"`
}

const stationCols = `id, org_id, location_id, identity, name, protocol, auth_key_hash, capabilities, online, last_seen_at, boot_info, sandbox_behavior, test_mode, created_at, updated_at`

func scanStation(s interface{ Scan(...any) error }) (ChargeStation, error) {
	var c ChargeStation
	var caps, boot string
	var hash sql.NullString
	var seen sql.NullTime
	if err := s.Scan(&c.ID, &c.OrgID, &c.Location, &c.Identity, &c.Name, &c.Protocol, &hash, &caps, &c.Online, &seen, &boot, &c.Sandbox, &c.TestMode, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return c, err
	}
	c.keyHash = hash.String
	if seen.Valid {
		t := seen.Time.UTC()
		c.LastSeenAt = &t
	}
	if err := store.FromJSON(caps, &c.Capabilities); err != nil {
		return c, err
	}
	return c, store.FromJSON(boot, &c.BootInfo)
}

// CheckPassword verifies the charger's HTTP Basic password.
func (c *ChargeStation) CheckPassword(password string) bool {
	return CheckPassword(c.keyHash, password)
}

// HasCapability reports whether the station can do cap.
func (c *ChargeStation) HasCapability(cap string) bool { return slices.Contains(c.Capabilities, cap) }

// CreateStation adds a station and its connectors. The password (given or
// generated) is returned once, in the result.
func CreateStation(ctx context.Context, tx *store.Tx, p org.Principal, in StationInput, sandbox string) (ChargeStation, error) {
	if _, err := GetLocation(ctx, tx, p, in.Location); err != nil {
		return ChargeStation{}, apperr.InvalidField("location", "no location %q in this organization and mode", in.Location)
	}
	if !identityRE.MatchString(in.Identity) {
		return ChargeStation{}, apperr.InvalidField("identity", "identity must be 1-48 characters of A-Z a-z 0-9 * - _ . :")
	}
	if in.Password == "" {
		in.Password = NewPassword()
	}
	if in.Capabilities == nil {
		in.Capabilities = []string{CapRemoteStartStop, CapChargingProfile, CapUnlock}
	}
	if in.Name == "" {
		in.Name = in.Identity
	}
	now := store.Now()
	c := ChargeStation{ID: id.New(), OrgID: p.OrgID, Location: in.Location, Identity: in.Identity, Name: in.Name, Protocol: "ocpp1.6",
		Capabilities: in.Capabilities, Password: in.Password, TestMode: p.TestMode, Sandbox: sandbox, CreatedAt: now, UpdatedAt: now}
	_, err := tx.ExecContext(ctx, `INSERT INTO chargestations (id, org_id, test_mode, location_id, identity, name, protocol, auth_key_hash, capabilities,
		online, boot_info, sandbox_behavior, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)`,
		c.ID, p.OrgID, p.TestMode, c.Location, c.Identity, c.Name, c.Protocol, hashPassword(in.Password), store.JSON(c.Capabilities),
		false, store.JSON(c.BootInfo), sandbox, now)
	if store.IsUniqueViolation(err) {
		return ChargeStation{}, apperr.Newf(apperr.Conflict, "identity_taken", "A charge station with identity %q already exists", in.Identity)
	}
	if err != nil {
		return ChargeStation{}, fmt.Errorf("network: create station: %w", err)
	}
	for i, cin := range in.Connectors {
		if cin.ConnectorNumber == 0 {
			cin.ConnectorNumber = i + 1
		}
		cin.Chargestation = c.ID
		conn, err := CreateConnector(ctx, tx, p, cin)
		if err != nil {
			if e, ok := apperr.As(err); ok && e.Field != "" {
				e.Field = fmt.Sprintf("connectors[%d].%s", i, e.Field)
			}
			return ChargeStation{}, err
		}
		c.Connectors = append(c.Connectors, conn)
	}
	if c.Connectors == nil {
		c.Connectors = []Connector{}
	}
	return c, nil
}

// GetStation returns a station with its connectors.
func GetStation(ctx context.Context, q store.Querier, p org.Principal, stationID string) (ChargeStation, error) {
	c, err := scanStation(q.QueryRowContext(ctx, `SELECT `+stationCols+` FROM chargestations WHERE id = $1 AND org_id = $2 AND test_mode = $3`,
		stationID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.NotFoundf("chargestation", stationID)
	}
	if err != nil {
		return c, fmt.Errorf("network: get station %s: %w", stationID, err)
	}
	return c, withConnectors(ctx, q, &c)
}

// StationByIdentity finds a station by OCPP identity, across organizations
// (the charger's URL carries no tenant).
func StationByIdentity(ctx context.Context, q store.Querier, identity string) (ChargeStation, error) {
	c, err := scanStation(q.QueryRowContext(ctx, `SELECT `+stationCols+` FROM chargestations WHERE identity = $1`, identity))
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.NotFoundf("chargestation", identity)
	}
	if err != nil {
		return c, fmt.Errorf("network: station %s: %w", identity, err)
	}
	return c, withConnectors(ctx, q, &c)
}

func withConnectors(ctx context.Context, q store.Querier, c *ChargeStation) error {
	rows, err := q.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE chargestation_id = $1 ORDER BY connector_number`, c.ID)
	if err != nil {
		return fmt.Errorf("network: connectors of %s: %w", c.ID, err)
	}
	c.Connectors, _, err = collect(rows, 1000, scanConnector)
	if c.Connectors == nil {
		c.Connectors = []Connector{}
	}
	return err
}

// UpdateStation changes a station.
func UpdateStation(ctx context.Context, tx *store.Tx, p org.Principal, stationID string, in StationPatch) (ChargeStation, error) {
	c, err := GetStation(ctx, tx, p, stationID)
	if err != nil {
		return c, err
	}
	if in.Location != nil {
		if _, err := GetLocation(ctx, tx, p, *in.Location); err != nil {
			return c, apperr.InvalidField("location", "no location %q in this organization and mode", *in.Location)
		}
		c.Location = *in.Location
	}
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Capabilities != nil {
		c.Capabilities = in.Capabilities
	}
	_, err = tx.ExecContext(ctx, `UPDATE chargestations SET name = $1, location_id = $2, capabilities = $3, updated_at = $4 WHERE id = $5`,
		c.Name, c.Location, store.JSON(c.Capabilities), store.Now(), c.ID)
	if err != nil {
		return c, fmt.Errorf("network: update station: %w", err)
	}
	return GetStation(ctx, tx, p, stationID)
}

// SetPassword replaces a station's key and returns the new one.
func SetPassword(ctx context.Context, tx *store.Tx, p org.Principal, stationID, password string) (string, error) {
	if password == "" {
		password = NewPassword()
	}
	res, err := tx.ExecContext(ctx, `UPDATE chargestations SET auth_key_hash = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 AND test_mode = $5`,
		hashPassword(password), store.Now(), stationID, p.OrgID, p.TestMode)
	return password, mustAffect(res, err, "chargestation", stationID)
}

// DeleteStation removes a station and its connectors.
func DeleteStation(ctx context.Context, tx *store.Tx, p org.Principal, stationID string) error {
	if _, err := GetStation(ctx, tx, p, stationID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE chargestation_id = $1`, stationID); err != nil {
		return fmt.Errorf("network: delete connectors: %w", err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM chargestations WHERE id = $1`, stationID)
	return err
}

// StationFilter narrows ListStations.
type StationFilter struct {
	Location string
	Online   *bool
}

// ListStations pages through stations, newest first, with their connectors.
func ListStations(ctx context.Context, q store.Querier, p org.Principal, f StationFilter, cursor string, limit int) ([]ChargeStation, bool, error) {
	online := -1
	if f.Online != nil && *f.Online {
		online = 1
	} else if f.Online != nil {
		online = 0
	}
	rows, err := q.QueryContext(ctx, `SELECT `+stationCols+` FROM chargestations WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3)
		AND ($4 = '' OR location_id = $4) AND ($5 < 0 OR online = ($5 = 1)) ORDER BY id DESC LIMIT $6`,
		p.OrgID, p.TestMode, cursor, f.Location, online, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("network: list stations: %w", err)
	}
	out, more, err := collect(rows, limit, scanStation)
	if err != nil {
		return nil, false, err
	}
	for i := range out {
		if err := withConnectors(ctx, q, &out[i]); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}
