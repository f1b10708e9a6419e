package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/store"
)

// inTx runs fn in a transaction and converts its error to a problem.
func inTx[T any](ctx context.Context, s *Server, fn func(tx *store.Tx) (T, error)) (*Body[T], error) {
	var out T
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		return nil, fail(ctx, err)
	}
	return one(out), nil
}

// get runs a read and converts its error to a problem.
func get[T any](ctx context.Context, v T, err error) (*Body[T], error) {
	if err != nil {
		return nil, fail(ctx, err)
	}
	return one(v), nil
}

// Deleted answers DELETE.
type Deleted struct {
	ID      string `json:"_id"`
	Deleted bool   `json:"deleted"`
}

func deleted(ctx context.Context, objID string, err error) (*Body[Deleted], error) {
	if err != nil {
		return nil, fail(ctx, err)
	}
	return one(Deleted{ID: objID, Deleted: true}), nil
}

func op(id, method, path, tag, summary string) huma.Operation {
	o := huma.Operation{OperationID: id, Method: method, Path: path, Tags: []string{tag}, Summary: summary}
	if method == http.MethodPost {
		o.DefaultStatus = http.StatusCreated
	}
	return o
}

func (s *Server) registerNetwork() {
	const L, C, K = "Locations", "Charge stations", "Connectors"
	// Locations.
	huma.Register(s.api, op("create-location", http.MethodPost, "/v1/locations", L, "Create a location"),
		func(ctx context.Context, in *struct{ Body network.LocationInput }) (*Body[network.Location], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.Location, error) {
				return network.CreateLocation(ctx, tx, principal(ctx), in.Body)
			})
		})
	huma.Register(s.api, op("list-locations", http.MethodGet, "/v1/locations", L, "List locations"),
		func(ctx context.Context, in *ListParams) (*ListOutput[network.Location], error) {
			ls, more, err := network.ListLocations(ctx, s.db.Q(), principal(ctx), in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(ls, more, func(l network.Location) string { return l.ID }), nil
		})
	huma.Register(s.api, op("get-location", http.MethodGet, "/v1/locations/{id}", L, "Get a location"),
		func(ctx context.Context, in *IDPath) (*Body[network.Location], error) {
			l, err := network.GetLocation(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, l, err)
		})
	huma.Register(s.api, op("update-location", http.MethodPatch, "/v1/locations/{id}", L, "Replace a location's fields"),
		func(ctx context.Context, in *struct {
			IDPath
			Body network.LocationInput
		}) (*Body[network.Location], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.Location, error) {
				return network.UpdateLocation(ctx, tx, principal(ctx), in.ID, in.Body)
			})
		})
	huma.Register(s.api, op("delete-location", http.MethodDelete, "/v1/locations/{id}", L, "Delete a location without charge stations"),
		func(ctx context.Context, in *IDPath) (*Body[Deleted], error) {
			return deleted(ctx, in.ID, s.db.InTx(ctx, func(tx *store.Tx) error { return network.DeleteLocation(ctx, tx, principal(ctx), in.ID) }))
		})

	// Charge stations.
	huma.Register(s.api, op("create-chargestation", http.MethodPost, "/v1/chargestations", C, "Register a charge station"),
		func(ctx context.Context, in *struct{ Body network.StationInput }) (*Body[network.ChargeStation], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.ChargeStation, error) {
				return network.CreateStation(ctx, tx, principal(ctx), in.Body, "")
			})
		})
	huma.Register(s.api, op("list-chargestations", http.MethodGet, "/v1/chargestations", C, "List charge stations with their connectors"),
		func(ctx context.Context, in *struct {
			ListParams
			Location string `query:"location" pattern:"^[0-9a-f]{24}$"`
			Online   string `query:"online" enum:"true,false"`
		}) (*ListOutput[network.ChargeStation], error) {
			f := network.StationFilter{Location: in.Location}
			if in.Online != "" {
				b := in.Online == "true"
				f.Online = &b
			}
			cs, more, err := network.ListStations(ctx, s.db.Q(), principal(ctx), f, in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(cs, more, func(c network.ChargeStation) string { return c.ID }), nil
		})
	huma.Register(s.api, op("get-chargestation", http.MethodGet, "/v1/chargestations/{id}", C, "Get a charge station"),
		func(ctx context.Context, in *IDPath) (*Body[network.ChargeStation], error) {
			c, err := network.GetStation(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, c, err)
		})
	huma.Register(s.api, op("update-chargestation", http.MethodPatch, "/v1/chargestations/{id}", C, "Change a charge station"),
		func(ctx context.Context, in *struct {
			IDPath
			Body network.StationPatch
		}) (*Body[network.ChargeStation], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.ChargeStation, error) {
				return network.UpdateStation(ctx, tx, principal(ctx), in.ID, in.Body)
			})
		})
	huma.Register(s.api, op("rotate-chargestation-password", http.MethodPost, "/v1/chargestations/{id}/password", C,
		"Set a new AuthorizationKey (HTTP Basic password) for the charger; shown once"),
		func(ctx context.Context, in *struct {
			IDPath
			Body struct {
				Password string `json:"password,omitempty" minLength:"16" maxLength:"40" doc:"Generated when omitted"`
			}
		}) (*Body[struct {
			Password string `json:"password"`
		}], error) {
			out := struct {
				Password string `json:"password"`
			}{}
			err := s.db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				out.Password, err = network.SetPassword(ctx, tx, principal(ctx), in.ID, in.Body.Password)
				return err
			})
			return get(ctx, out, err)
		})
	huma.Register(s.api, op("delete-chargestation", http.MethodDelete, "/v1/chargestations/{id}", C, "Delete a charge station and its connectors"),
		func(ctx context.Context, in *IDPath) (*Body[Deleted], error) {
			return deleted(ctx, in.ID, s.db.InTx(ctx, func(tx *store.Tx) error { return network.DeleteStation(ctx, tx, principal(ctx), in.ID) }))
		})

	// Connectors.
	huma.Register(s.api, op("create-connector", http.MethodPost, "/v1/connectors", K, "Add a connector to a charge station"),
		func(ctx context.Context, in *struct{ Body network.ConnectorInput }) (*Body[network.Connector], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.Connector, error) {
				return network.CreateConnector(ctx, tx, principal(ctx), in.Body)
			})
		})
	huma.Register(s.api, op("list-connectors", http.MethodGet, "/v1/connectors", K, "List connectors"),
		func(ctx context.Context, in *struct {
			ListParams
			Chargestation string `query:"chargestation" pattern:"^[0-9a-f]{24}$"`
		}) (*ListOutput[network.Connector], error) {
			cs, more, err := network.ListConnectors(ctx, s.db.Q(), principal(ctx), in.Chargestation, in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(cs, more, func(c network.Connector) string { return c.ID }), nil
		})
	huma.Register(s.api, op("get-connector", http.MethodGet, "/v1/connectors/{id}", K, "Get a connector"),
		func(ctx context.Context, in *IDPath) (*Body[network.Connector], error) {
			c, err := network.GetConnector(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, c, err)
		})
	huma.Register(s.api, op("update-connector", http.MethodPatch, "/v1/connectors/{id}", K, "Change a connector (e.g. its rate)"),
		func(ctx context.Context, in *struct {
			IDPath
			Body network.ConnectorPatch
		}) (*Body[network.Connector], error) {
			return inTx(ctx, s, func(tx *store.Tx) (network.Connector, error) {
				return network.UpdateConnector(ctx, tx, principal(ctx), in.ID, in.Body)
			})
		})
	huma.Register(s.api, op("delete-connector", http.MethodDelete, "/v1/connectors/{id}", K, "Delete a connector"),
		func(ctx context.Context, in *IDPath) (*Body[Deleted], error) {
			return deleted(ctx, in.ID, s.db.InTx(ctx, func(tx *store.Tx) error { return network.DeleteConnector(ctx, tx, principal(ctx), in.ID) }))
		})
}
