// Package sandbox prepares test mode on a fresh database: the sandbox
// organization, its test API key, and the two locations of spec 003's stage
// environment with their chargers (a normal one, and the four error
// chargers), each connector on a sandbox rate.
package sandbox

import (
	"context"
	"fmt"

	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/rates"
	"github.com/joule-ev/joule/internal/store"
)

// Behaviours of the sandbox virtual chargers (spec 003 "Error case").
const (
	Normal      = "normal"
	StartHangs  = "start_hangs"  // DE*DRV*E6mayTt: stays in WAITING_TO_START
	StopIgnored = "stop_ignored" // DE*DRV*E4JanRe: stop rejected, keeps charging
	StartFails  = "start_fails"  // DE*DRV*E9svnVs: start rejected -> FAILED
	StopFails   = "stop_fails"   // DE*DRV*E8vsnVn: stop never confirmed -> STOP_FAILED
)

// Charger is one sandbox charger to create.
type Charger struct {
	Identity string
	Name     string
	Behavior string
	EvseIDs  []string
}

// Site is one sandbox location.
type Site struct {
	Name     string
	Address  network.Address
	Lat, Lng float64
	Chargers []Charger
}

// Sites are the stage environment of spec 003 (DESIGN §10).
var Sites = []Site{
	{
		Name: "Joule Sandbox — Test site", Lat: 52.290056, Lng: 20.907028,
		Address: network.Address{StreetAndNumber: "Kasprowicza 1", City: "Warsaw", PostalCode: "01-949", Country: "POL"},
		Chargers: []Charger{
			{Identity: "SANDBOX-OK-1", Name: "Sandbox charger 1", Behavior: Normal, EvseIDs: []string{"DE*DRV*E1okSb1", "DE*DRV*E1okSb2"}},
			{Identity: "SANDBOX-OK-2", Name: "Sandbox charger 2", Behavior: Normal, EvseIDs: []string{"DE*DRV*E2okSb1", "DE*DRV*E2okSb2"}},
		},
	},
	{
		Name: "Joule Sandbox — Error simulation site", Lat: 52.334242, Lng: 20.899305,
		Address: network.Address{StreetAndNumber: "Wólczyńska 100", City: "Warsaw", PostalCode: "01-919", Country: "POL"},
		Chargers: []Charger{
			{Identity: "SANDBOX-E6mayTt", Name: "Waiting to start hanging", Behavior: StartHangs, EvseIDs: []string{"DE*DRV*E6mayTt"}},
			{Identity: "SANDBOX-E4JanRe", Name: "Stop ignored", Behavior: StopIgnored, EvseIDs: []string{"DE*DRV*E4JanRe"}},
			{Identity: "SANDBOX-E9svnVs", Name: "Start fails", Behavior: StartFails, EvseIDs: []string{"DE*DRV*E9svnVs"}},
			{Identity: "SANDBOX-E8vsnVn", Name: "Stop fails", Behavior: StopFails, EvseIDs: []string{"DE*DRV*E8vsnVn"}},
		},
	},
}

// sandboxRate is 0.40 USD/kWh + 1.20 USD/h charging time, 10 % VAT.
const sandboxRate = `{"currency":"USD","elements":[{"price_components":[
	{"type":"ENERGY","price":0.40,"vat":10,"step_size":1},
	{"type":"TIME","price":1.20,"vat":10,"step_size":60}]}]}`

// Result says what Bootstrap did.
type Result struct {
	OrgID   string
	Created bool   // a fresh database: the organization was created now
	Key     string // the test key, when one was created or given
	// Passwords holds the generated AuthorizationKey of each sandbox
	// charger created now, by identity, for the virtual chargers to use.
	Passwords map[string]string
}

// Bootstrap makes sure the sandbox organization exists. On a fresh database
// it creates the organization, a test key (fixedKey when given) and the
// sandbox sites; on an existing one it only adds fixedKey if it is new.
func Bootstrap(ctx context.Context, db *store.DB, fixedKey string) (Result, error) {
	var res Result
	err := db.InTx(ctx, func(tx *store.Tx) error {
		res = Result{Passwords: map[string]string{}}
		first, err := org.FirstID(ctx, tx)
		if err != nil {
			return err
		}
		if first != "" {
			res.OrgID = first
			if fixedKey != "" {
				if _, err := org.AddKey(ctx, tx, first, "sandbox", fixedKey); err != nil {
					return err
				}
				res.Key = fixedKey
			}
			return nil
		}
		o, err := org.Create(ctx, tx, "Sandbox organization")
		if err != nil {
			return err
		}
		res.OrgID, res.Created = o.ID, true
		res.Key = fixedKey
		if res.Key == "" {
			res.Key = org.NewKey(true)
		}
		if _, err := org.AddKey(ctx, tx, o.ID, "sandbox", res.Key); err != nil {
			return err
		}
		return createSites(ctx, tx, org.Principal{OrgID: o.ID, TestMode: true}, res.Passwords)
	})
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: bootstrap: %w", err)
	}
	return res, nil
}

func createSites(ctx context.Context, tx *store.Tx, p org.Principal, passwords map[string]string) error {
	rate, err := rates.Create(ctx, tx, p, rates.Input{Name: "Sandbox rate", Tariff: []byte(sandboxRate)})
	if err != nil {
		return err
	}
	for _, site := range Sites {
		loc, err := network.CreateLocation(ctx, tx, p, network.LocationInput{Name: site.Name, Address: site.Address,
			Coordinates: network.Coordinates{Latitude: site.Lat, Longitude: site.Lng}, Timezone: "Europe/Warsaw"})
		if err != nil {
			return err
		}
		for _, ch := range site.Chargers {
			in := network.StationInput{Location: loc.ID, Identity: ch.Identity, Name: ch.Name}
			for i, evse := range ch.EvseIDs {
				in.Connectors = append(in.Connectors, network.ConnectorInput{ConnectorNumber: i + 1, EvseID: evse, Rate: &rate.ID, MaxPower: 22000})
			}
			st, err := network.CreateStation(ctx, tx, p, in, ch.Behavior)
			if err != nil {
				return err
			}
			passwords[ch.Identity] = st.Password
		}
	}
	return nil
}
