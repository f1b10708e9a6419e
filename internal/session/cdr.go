package session

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/tariff"
)

// CDR is an OCPI 2.2.1 charge detail record. Once written it never changes.
type CDR struct {
	CountryCode      string          `json:"country_code"`
	PartyID          string          `json:"party_id"`
	ID               string          `json:"id"`
	StartDateTime    time.Time       `json:"start_date_time"`
	EndDateTime      time.Time       `json:"end_date_time"`
	SessionID        string          `json:"session_id"`
	CdrToken         CdrToken        `json:"cdr_token"`
	AuthMethod       string          `json:"auth_method"`
	CdrLocation      CdrLocation     `json:"cdr_location"`
	Currency         string          `json:"currency"`
	Tariffs          []any           `json:"tariffs"`
	ChargingPeriods  []CdrPeriod     `json:"charging_periods"`
	TotalCost        Price           `json:"total_cost"`
	TotalFixedCost   *Price          `json:"total_fixed_cost,omitempty"`
	TotalEnergy      json.Number     `json:"total_energy"`
	TotalEnergyCost  *Price          `json:"total_energy_cost,omitempty"`
	TotalTime        json.Number     `json:"total_time"`
	TotalTimeCost    *Price          `json:"total_time_cost,omitempty"`
	TotalParkingTime json.Number     `json:"total_parking_time"`
	TotalParkingCost *Price          `json:"total_parking_cost,omitempty"`
	AmountMinor      int64           `json:"amount_minor" doc:"Joule: cents charged"`
	Breakdown        []BreakdownLine `json:"breakdown" doc:"Joule: itemized cost"`
	LastUpdated      time.Time       `json:"last_updated"`
}

// CdrToken identifies the driver's key.
type CdrToken struct {
	UID        string `json:"uid"`
	Type       string `json:"type"`
	ContractID string `json:"contract_id"`
}

// CdrLocation is where the session took place.
type CdrLocation struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Address            string            `json:"address"`
	City               string            `json:"city"`
	PostalCode         string            `json:"postal_code,omitempty"`
	Country            string            `json:"country"`
	Coordinates        map[string]string `json:"coordinates"`
	EvseUID            string            `json:"evse_uid"`
	EvseID             string            `json:"evse_id"`
	ConnectorID        string            `json:"connector_id"`
	ConnectorStandard  string            `json:"connector_standard"`
	ConnectorFormat    string            `json:"connector_format"`
	ConnectorPowerType string            `json:"connector_power_type"`
}

// CdrPeriod is a charging period with its dimensions.
type CdrPeriod struct {
	StartDateTime time.Time      `json:"start_date_time"`
	Dimensions    []CdrDimension `json:"dimensions"`
}

// CdrDimension is one measured volume.
type CdrDimension struct {
	Type   string      `json:"type"`
	Volume json.Number `json:"volume"`
}

// Price is an OCPI price.
type Price struct {
	ExclVAT json.Number `json:"excl_vat"`
	InclVAT json.Number `json:"incl_vat"`
}

func price(a tariff.Amount) *Price {
	return &Price{ExclVAT: json.Number(a.ExclVAT.StringFixed(4)), InclVAT: json.Number(a.InclVAT.StringFixed(4))}
}

func hours(d time.Duration) json.Number { return json.Number(fmt.Sprintf("%.6f", d.Hours())) }

func (s *Service) writeCDR(ctx context.Context, tx *store.Tx, x *Session, t *csms.Transaction, r *tariff.Result) error {
	p := x.principal()
	st, err := network.GetStation(ctx, tx, p, x.Chargestation)
	if err != nil {
		return err
	}
	loc, err := network.GetLocation(ctx, tx, p, st.Location)
	if err != nil {
		return err
	}
	conn, err := network.GetConnector(ctx, tx, p, x.Connector)
	if err != nil {
		return err
	}
	var tariffObj any
	_ = json.Unmarshal([]byte(x.tariff), &tariffObj)
	auth := "AUTH_REQUEST"
	if x.ChargingKeyType == "virtual" {
		auth = "COMMAND"
	}
	country := loc.Address.Country
	cdr := CDR{CountryCode: "ZZ", PartyID: "JOU", ID: id.New(), StartDateTime: *x.StartedAt, EndDateTime: *x.EndedAt, SessionID: x.ID,
		CdrToken:   CdrToken{UID: x.idTag, Type: map[bool]string{true: "APP_USER", false: "RFID"}[x.ChargingKeyType == "virtual"], ContractID: x.User},
		AuthMethod: auth, Currency: r.Currency, Tariffs: []any{tariffObj},
		CdrLocation: CdrLocation{ID: loc.ID, Name: loc.Name, Address: loc.Address.StreetAndNumber, City: loc.Address.City, PostalCode: loc.Address.PostalCode,
			Country: country, Coordinates: map[string]string{"latitude": fmt.Sprintf("%.6f", loc.Coordinates.Latitude), "longitude": fmt.Sprintf("%.6f", loc.Coordinates.Longitude)},
			EvseUID: conn.ID, EvseID: conn.EvseID, ConnectorID: fmt.Sprint(conn.ConnectorNumber), ConnectorStandard: conn.Standard,
			ConnectorFormat: conn.Format, ConnectorPowerType: conn.PowerType},
		TotalCost:   Price{ExclVAT: json.Number(r.TotalExclVAT.StringFixed(4)), InclVAT: json.Number(r.TotalInclVAT.StringFixed(4))},
		TotalEnergy: json.Number(kwh(x.Energy.Wh)), TotalTime: hours(x.EndedAt.Sub(*x.StartedAt)), TotalParkingTime: hours(r.ParkingTime),
		TotalFixedCost: price(r.Fixed), TotalEnergyCost: price(r.Energy), TotalTimeCost: price(r.Time), TotalParkingCost: price(r.Parking),
		AmountMinor: r.AmountMinor, Breakdown: x.Cost.Breakdown, LastUpdated: store.Now()}
	for _, pv := range x.ChargingPeriods {
		dims := []CdrDimension{{Type: "ENERGY", Volume: json.Number(kwh(pv.EnergyWh))}}
		dimType := "TIME"
		if pv.State == periodParking {
			dimType = "PARKING_TIME"
		}
		dims = append(dims, CdrDimension{Type: dimType, Volume: hours(pv.EndAt.Sub(pv.StartAt))})
		cdr.ChargingPeriods = append(cdr.ChargingPeriods, CdrPeriod{StartDateTime: pv.StartAt, Dimensions: dims})
	}
	if cdr.Breakdown == nil {
		cdr.Breakdown = []BreakdownLine{}
	}
	// ON CONFLICT: a session is priced once; a replayed stop writes nothing.
	_, err = tx.ExecContext(ctx, `INSERT INTO cdrs (id, session_id, org_id, test_mode, body, created_at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (session_id) DO NOTHING`, cdr.ID, x.ID, x.OrgID, x.TestMode, store.JSON(cdr), store.Now())
	if err != nil {
		return fmt.Errorf("session: write CDR: %w", err)
	}
	return nil
}

// GetCDR returns a session's CDR.
func GetCDR(ctx context.Context, q store.Querier, p org.Principal, sessionID string) (json.RawMessage, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM cdrs WHERE session_id = $1 AND org_id = $2 AND test_mode = $3`, sessionID, p.OrgID, p.TestMode).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Newf(apperr.NotFound, "cdr_not_found", "Session %s has no CDR yet: it is written when the charger reports the end", sessionID)
	}
	if err != nil {
		return nil, fmt.Errorf("session: CDR of %s: %w", sessionID, err)
	}
	return json.RawMessage(body), nil
}
