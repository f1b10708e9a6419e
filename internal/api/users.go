package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
	"github.com/joule-ev/joule/internal/wallet"
)

func (s *Server) registerUsers() {
	const U, W = "Users", "Wallets"
	svc := &users.Service{Outbox: s.Outbox}
	huma.Register(s.api, op("create-user", http.MethodPost, "/v1/users", U, "Create a user (with a wallet in the organization's currency)"),
		func(ctx context.Context, in *struct{ Body users.Input }) (*Body[users.User], error) {
			return inTx(ctx, s, func(tx *store.Tx) (users.User, error) { return svc.Create(ctx, tx, principal(ctx), in.Body) })
		})
	huma.Register(s.api, op("list-users", http.MethodGet, "/v1/users", U, "List users"),
		func(ctx context.Context, in *struct {
			ListParams
			Email string `query:"email" maxLength:"254"`
		}) (*ListOutput[users.User], error) {
			us, more, err := users.List(ctx, s.db.Q(), principal(ctx), in.Email, in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(us, more, func(u users.User) string { return u.ID }), nil
		})
	huma.Register(s.api, op("get-user", http.MethodGet, "/v1/users/{id}", U, "Get a user"),
		func(ctx context.Context, in *IDPath) (*Body[users.User], error) {
			u, err := users.Get(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, u, err)
		})
	huma.Register(s.api, op("update-user", http.MethodPatch, "/v1/users/{id}", U, "Change a user"),
		func(ctx context.Context, in *struct {
			IDPath
			Body users.Input
		}) (*Body[users.User], error) {
			return inTx(ctx, s, func(tx *store.Tx) (users.User, error) { return svc.Update(ctx, tx, principal(ctx), in.ID, in.Body) })
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-user-wallet", Method: http.MethodGet, Path: "/v1/users/{id}/wallet", Tags: []string{W},
		Summary:     "Get the user with its wallet, creating the wallet if missing",
		Description: "As spec 002: returns the user object with `wallet` (balance and available_balance in cents)."},
		func(ctx context.Context, in *IDPath) (*Body[users.User], error) {
			return inTx(ctx, s, func(tx *store.Tx) (users.User, error) { return svc.EnsureWallet(ctx, tx, principal(ctx), in.ID) })
		})
	huma.Register(s.api, op("get-wallet", http.MethodGet, "/v1/wallets/{id}", W, "Get a wallet"),
		func(ctx context.Context, in *IDPath) (*Body[wallet.Wallet], error) {
			w, err := wallet.Get(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, w, err)
		})
}
