package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/wallet"
)

func (s *Server) registerTopUps() {
	const T = "Top-ups"
	huma.Register(s.api, huma.Operation{OperationID: "create-top-up", Method: http.MethodPost, Path: "/v1/top_up", Tags: []string{T},
		DefaultStatus: http.StatusCreated, Summary: "Top up a wallet",
		Description: "As spec 004. `type: manual` answers with `url`, the hosted payment page (where the driver may also save the card). " +
			"`type: manual_with_payment_method` charges `payment_method`, a saved method of the wallet's user (in test mode also " +
			"`pm_card_visa` or `pm_card_chargeDeclined`); the call waits a few seconds for the charge, so it usually answers `completed` " +
			"or `failed`, else `created` with the outcome following as an event. `wallet_amount` (default `amount`) is credited once " +
			"the provider confirms the payment; more than `amount` is a discount. Unpaid top-ups expire after the organization's " +
			"`top_up_expiry_time`. Events: `top_up.created`, `top_up.completed` (with `wallet.updated`), `top_up.expired`, `top_up.failed`."},
		func(ctx context.Context, in *struct{ Body wallet.TopUpInput }) (*Body[wallet.TopUp], error) {
			t, err := s.Wallets.CreateTopUp(ctx, principal(ctx), in.Body)
			return get(ctx, t, err)
		})
	huma.Register(s.api, op("get-top-up", http.MethodGet, "/v1/top_up/{id}", T, "Get a top-up"),
		func(ctx context.Context, in *IDPath) (*Body[wallet.TopUp], error) {
			t, err := wallet.GetTopUp(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, t, err)
		})
	huma.Register(s.api, op("list-top-ups", http.MethodGet, "/v1/top_up", T, "List top-ups"),
		func(ctx context.Context, in *struct {
			ListParams
			Wallet string `query:"wallet" pattern:"^[0-9a-f]{24}$" doc:"Only this wallet's top-ups"`
			Status string `query:"status" enum:"created,completed,expired,failed"`
		}) (*ListOutput[wallet.TopUp], error) {
			ts, more, err := wallet.ListTopUps(ctx, s.db.Q(), principal(ctx), wallet.TopUpFilter{Wallet: in.Wallet, Status: in.Status,
				Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(ts, more, func(t wallet.TopUp) string { return t.ID }), nil
		})
}
