package network

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Connector is an EVSE with one connector, as OCPP 1.6 numbers them.
type Connector struct {
	ID              string     `json:"_id"`
	Chargestation   string     `json:"chargestation"`
	ConnectorNumber int        `json:"connector_number" doc:"OCPP connectorId (1-based)"`
	EvseID          string     `json:"evse_id"`
	Standard        string     `json:"standard"`
	Format          string     `json:"format"`
	PowerType       string     `json:"power_type"`
	MaxPower        int64      `json:"max_power" doc:"Watts"`
	Status          string     `json:"status" doc:"Last OCPP status reported by the charger"`
	StatusUpdatedAt *time.Time `json:"status_updated_at"`
	Rate            *string    `json:"rate"`
	TestMode        bool       `json:"test_mode"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

// ConnectorInput creates a connector.
type ConnectorInput struct {
	Chargestation   string  `json:"chargestation,omitempty" pattern:"^[0-9a-f]{24}$" doc:"Required unless nested in a charge station"`
	ConnectorNumber int     `json:"connector_number,omitempty" minimum:"1" maximum:"99"`
	EvseID          string  `json:"evse_id" minLength:"1" maxLength:"48" doc:"e.g. DE*DRV*E6mayTt"`
	Standard        string  `json:"standard,omitempty" enum:"IEC_62196_T1,IEC_62196_T1_COMBO,IEC_62196_T2,IEC_62196_T2_COMBO,CHADEMO,GBT_AC,GBT_DC,TESLA_S,DOMESTIC_F"`
	Format          string  `json:"format,omitempty" enum:"SOCKET,CABLE"`
	PowerType       string  `json:"power_type,omitempty" enum:"AC_1_PHASE,AC_3_PHASE,DC"`
	MaxPower        int64   `json:"max_power,omitempty" minimum:"1" maximum:"1000000" doc:"Watts (default 22000)"`
	Rate            *string `json:"rate,omitempty" pattern:"^[0-9a-f]{24}$"`
}

// ConnectorPatch changes a connector.
type ConnectorPatch struct {
	EvseID    *string `json:"evse_id,omitempty" minLength:"1" maxLength:"48"`
	Standard  *string `json:"standard,omitempty" enum:"IEC_62196_T1,IEC_62196_T1_COMBO,IEC_62196_T2,IEC_62196_T2_COMBO,CHADEMO,GBT_AC,GBT_DC,TESLA_S,DOMESTIC_F"`
	Format    *string `json:"format,omitempty" enum:"SOCKET,CABLE"`
	PowerType *string `json:"power_type,omitempty" enum:"AC_1_PHASE,AC_3_PHASE,DC"`
	MaxPower  *int64  `json:"max_power,omitempty" minimum:"1" maximum:"1000000"`
	Rate      *string `json:"rate,omitempty" doc:"Rate id, or empty string to remove the rate"`
}

const connectorCols = `id, chargestation_id, connector_number, evse_id, standard, format, power_type, max_power_w, status, status_updated_at, rate_id, test_mode, created_at, updated_at`

func scanConnector(s interface{ Scan(...any) error }) (Connector, error) {
	var c Connector
	var st sql.NullTime
	var rate sql.NullString
	err := s.Scan(&c.ID, &c.Chargestation, &c.ConnectorNumber, &c.EvseID, &c.Standard, &c.Format, &c.PowerType, &c.MaxPower, &c.Status, &st, &rate, &c.TestMode, &c.CreatedAt, &c.UpdatedAt)
	if st.Valid {
		t := st.Time.UTC()
		c.StatusUpdatedAt = &t
	}
	if rate.Valid {
		c.Rate = &rate.String
	}
	return c, err
}

func checkRate(ctx context.Context, q store.Querier, p org.Principal, rateID string) error {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM rates WHERE id = $1 AND org_id = $2 AND test_mode = $3`, rateID, p.OrgID, p.TestMode).Scan(&n)
	if err != nil {
		return fmt.Errorf("network: check rate: %w", err)
	}
	if n == 0 {
		return apperr.InvalidField("rate", "no rate %q in this organization and mode", rateID)
	}
	return nil
}

// CreateConnector adds a connector to a station.
func CreateConnector(ctx context.Context, tx *store.Tx, p org.Principal, in ConnectorInput) (Connector, error) {
	var stationOK int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM chargestations WHERE id = $1 AND org_id = $2 AND test_mode = $3`,
		in.Chargestation, p.OrgID, p.TestMode).Scan(&stationOK); err != nil {
		return Connector{}, fmt.Errorf("network: check station: %w", err)
	}
	if stationOK == 0 {
		return Connector{}, apperr.InvalidField("chargestation", "no charge station %q in this organization and mode", in.Chargestation)
	}
	if in.Rate != nil {
		if err := checkRate(ctx, tx, p, *in.Rate); err != nil {
			return Connector{}, err
		}
	}
	if in.ConnectorNumber == 0 {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(connector_number), 0) + 1 FROM connectors WHERE chargestation_id = $1`, in.Chargestation).
			Scan(&in.ConnectorNumber); err != nil {
			return Connector{}, fmt.Errorf("network: next connector number: %w", err)
		}
	}
	c := Connector{ID: id.New(), Chargestation: in.Chargestation, ConnectorNumber: in.ConnectorNumber, EvseID: in.EvseID,
		Standard: or(in.Standard, "IEC_62196_T2"), Format: or(in.Format, "SOCKET"), PowerType: or(in.PowerType, "AC_3_PHASE"),
		MaxPower: in.MaxPower, Status: "Unavailable", Rate: in.Rate, TestMode: p.TestMode}
	if c.MaxPower == 0 {
		c.MaxPower = 22000
	}
	c.CreatedAt = store.Now()
	c.UpdatedAt = c.CreatedAt
	_, err := tx.ExecContext(ctx, `INSERT INTO connectors (id, org_id, test_mode, chargestation_id, connector_number, evse_id, standard, format, power_type,
		max_power_w, status, rate_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)`,
		c.ID, p.OrgID, p.TestMode, c.Chargestation, c.ConnectorNumber, c.EvseID, c.Standard, c.Format, c.PowerType, c.MaxPower, c.Status, c.Rate, c.CreatedAt)
	if store.IsUniqueViolation(err) {
		return Connector{}, apperr.InvalidField("connector_number", "connector %d already exists on this charge station", c.ConnectorNumber)
	}
	if err != nil {
		return Connector{}, fmt.Errorf("network: create connector: %w", err)
	}
	return c, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// GetConnector returns a connector of the principal's organization and mode.
func GetConnector(ctx context.Context, q store.Querier, p org.Principal, connID string) (Connector, error) {
	c, err := scanConnector(q.QueryRowContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE id = $1 AND org_id = $2 AND test_mode = $3`,
		connID, p.OrgID, p.TestMode))
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.NotFoundf("connector", connID)
	}
	if err != nil {
		return c, fmt.Errorf("network: get connector %s: %w", connID, err)
	}
	return c, nil
}

// ConnectorByNumber reads a station's connector by its OCPP number (a
// charger's messages name connectors so); it reports false when the station
// has no such connector. The station belongs to the caller: chargers are
// authenticated before their messages come here.
func ConnectorByNumber(ctx context.Context, q store.Querier, stationID string, number int) (Connector, bool, error) {
	c, err := scanConnector(q.QueryRowContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE chargestation_id = $1 AND connector_number = $2`,
		stationID, number))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("network: connector %d of %s: %w", number, stationID, err)
	}
	return c, true, nil
}

// UpdateConnector changes a connector.
func UpdateConnector(ctx context.Context, tx *store.Tx, p org.Principal, connID string, in ConnectorPatch) (Connector, error) {
	c, err := GetConnector(ctx, tx, p, connID)
	if err != nil {
		return c, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.EvseID, in.EvseID)
	set(&c.Standard, in.Standard)
	set(&c.Format, in.Format)
	set(&c.PowerType, in.PowerType)
	if in.MaxPower != nil {
		c.MaxPower = *in.MaxPower
	}
	if in.Rate != nil {
		if *in.Rate == "" {
			c.Rate = nil
		} else {
			if err := checkRate(ctx, tx, p, *in.Rate); err != nil {
				return c, err
			}
			c.Rate = in.Rate
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE connectors SET evse_id = $1, standard = $2, format = $3, power_type = $4, max_power_w = $5, rate_id = $6, updated_at = $7
		WHERE id = $8`, c.EvseID, c.Standard, c.Format, c.PowerType, c.MaxPower, c.Rate, store.Now(), c.ID)
	if err != nil {
		return c, fmt.Errorf("network: update connector: %w", err)
	}
	return GetConnector(ctx, tx, p, connID)
}

// DeleteConnector removes a connector.
func DeleteConnector(ctx context.Context, tx *store.Tx, p org.Principal, connID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE id = $1 AND org_id = $2 AND test_mode = $3`, connID, p.OrgID, p.TestMode)
	return mustAffect(res, err, "connector", connID)
}

// ListConnectors pages through connectors, newest first.
func ListConnectors(ctx context.Context, q store.Querier, p org.Principal, stationID string, cursor string, limit int) ([]Connector, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE org_id = $1 AND test_mode = $2 AND ($3 = '' OR id < $3)
		AND ($4 = '' OR chargestation_id = $4) ORDER BY id DESC LIMIT $5`, p.OrgID, p.TestMode, cursor, stationID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("network: list connectors: %w", err)
	}
	return collect(rows, limit, scanConnector)
}
