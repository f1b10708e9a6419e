package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/joule-ev/joule/internal/rates"
	"github.com/joule-ev/joule/internal/store"
)

// Dec is an exact decimal in JSON: a number or a string of digits. Prices
// never pass through float64.
type Dec struct{ decimal.Decimal }

// Schema tells huma that a Dec is a number or a numeric string.
func (Dec) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{OneOf: []*huma.Schema{{Type: "number"}, {Type: "string", Pattern: `^-?[0-9]+(\.[0-9]+)?$`}}}
}

// MarshalJSON writes the decimal as a JSON number.
func (d Dec) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// PriceComponent is one component of the eDRV rate shorthand (spec 000/001).
type PriceComponent struct {
	Type        string `json:"type" enum:"ENERGY,TIME,PARKING_TIME,FLAT"`
	Price       Dec    `json:"price" doc:"Excl. VAT, in currency units per kWh (ENERGY), per hour (TIME, PARKING_TIME) or once (FLAT)"`
	Tax         *Dec   `json:"tax,omitempty" doc:"VAT percentage"`
	StepSize    int    `json:"step_size,omitempty" minimum:"0" doc:"Billing step: Wh for ENERGY, seconds for TIME and PARKING_TIME"`
	GracePeriod int    `json:"grace_period,omitempty" minimum:"0" doc:"Free minutes before this component starts to bill"`
}

// RateInput creates or replaces a rate: an OCPI 2.2.1 `tariff`, or the
// shorthand `price_components` (+ `minimum_amount`).
type RateInput struct {
	Name            string           `json:"name" minLength:"1" maxLength:"200"`
	Currency        string           `json:"currency,omitempty" pattern:"^[A-Z]{3}$" doc:"Required with price_components"`
	Tariff          map[string]any   `json:"tariff,omitempty" doc:"An OCPI 2.2.1 Tariff object"`
	PriceComponents []PriceComponent `json:"price_components,omitempty" maxItems:"16"`
	MinimumAmount   *int64           `json:"minimum_amount,omitempty" minimum:"0" doc:"Minimum session price in cents (min_price)"`
}

func (in RateInput) domain() rates.Input {
	out := rates.Input{Name: in.Name, Currency: in.Currency}
	if in.Tariff != nil {
		out.Tariff, _ = json.Marshal(in.Tariff)
	}
	if in.PriceComponents != nil || in.MinimumAmount != nil {
		out.Shorthand, _ = json.Marshal(map[string]any{"currency": in.Currency, "price_components": in.PriceComponents, "minimum_amount": in.MinimumAmount})
	}
	return out
}

// RateView is a rate as the API shows it.
type RateView struct {
	ID              string          `json:"_id"`
	Name            string          `json:"name"`
	Currency        string          `json:"currency"`
	Tariff          json.RawMessage `json:"tariff" doc:"The OCPI 2.2.1 tariff the engine prices with"`
	PriceComponents json.RawMessage `json:"price_components,omitempty" doc:"The shorthand the rate was given in, if any"`
	MinimumAmount   json.RawMessage `json:"minimum_amount,omitempty"`
	HasParkingTime  bool            `json:"has_parking_time" doc:"Sessions on this rate cannot be stopped through the API (spec 000)"`
	TestMode        bool            `json:"test_mode"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

func viewRate(r rates.Rate) RateView {
	v := RateView{ID: r.ID, Name: r.Name, Currency: r.Currency, HasParkingTime: r.HasParkingTime, TestMode: r.TestMode, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	v.Tariff, _ = json.Marshal(r.Tariff)
	if len(r.Shorthand) > 0 {
		var sh struct {
			PriceComponents json.RawMessage `json:"price_components"`
			MinimumAmount   json.RawMessage `json:"minimum_amount"`
		}
		if json.Unmarshal(r.Shorthand, &sh) == nil {
			v.PriceComponents = sh.PriceComponents
			if string(sh.MinimumAmount) != "null" {
				v.MinimumAmount = sh.MinimumAmount
			}
		}
	}
	return v
}

func (s *Server) registerRates() {
	const R = "Rates"
	huma.Register(s.api, op("create-rate", http.MethodPost, "/v1/rates", R, "Create a rate (OCPI 2.2.1 tariff or price_components shorthand)"),
		func(ctx context.Context, in *struct{ Body RateInput }) (*Body[RateView], error) {
			return inTx(ctx, s, func(tx *store.Tx) (RateView, error) {
				r, err := rates.Create(ctx, tx, principal(ctx), in.Body.domain())
				return viewRate(r), err
			})
		})
	huma.Register(s.api, op("list-rates", http.MethodGet, "/v1/rates", R, "List rates"),
		func(ctx context.Context, in *ListParams) (*ListOutput[RateView], error) {
			rs, more, err := rates.List(ctx, s.db.Q(), principal(ctx), in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			views := make([]RateView, len(rs))
			for i, r := range rs {
				views[i] = viewRate(r)
			}
			return page(views, more, func(v RateView) string { return v.ID }), nil
		})
	huma.Register(s.api, op("get-rate", http.MethodGet, "/v1/rates/{id}", R, "Get a rate"),
		func(ctx context.Context, in *IDPath) (*Body[RateView], error) {
			r, err := rates.Get(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, viewRate(r), err)
		})
	huma.Register(s.api, op("update-rate", http.MethodPatch, "/v1/rates/{id}", R, "Replace a rate's tariff (applies to new sessions)"),
		func(ctx context.Context, in *struct {
			IDPath
			Body RateInput
		}) (*Body[RateView], error) {
			return inTx(ctx, s, func(tx *store.Tx) (RateView, error) {
				r, err := rates.Update(ctx, tx, principal(ctx), in.ID, in.Body.domain())
				return viewRate(r), err
			})
		})
	huma.Register(s.api, op("delete-rate", http.MethodDelete, "/v1/rates/{id}", R, "Delete a rate no connector uses"),
		func(ctx context.Context, in *IDPath) (*Body[Deleted], error) {
			return deleted(ctx, in.ID, s.db.InTx(ctx, func(tx *store.Tx) error { return rates.Delete(ctx, tx, principal(ctx), in.ID) }))
		})
}
