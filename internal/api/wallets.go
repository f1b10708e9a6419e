package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/wallet"
)

func (s *Server) registerWallets() {
	const W = "Wallets"
	huma.Register(s.api, huma.Operation{OperationID: "update-wallet", Method: http.MethodPatch, Path: "/v1/wallets/{id}", Tags: []string{W},
		Summary: "Change a wallet's automatic top-up",
		Description: "`auto_top_up{active, payment_method, amount, threshold}`: when the available balance falls below `threshold` cents, " +
			"`amount` cents are charged to `payment_method` (a saved method of the wallet's user) and credited, one automatic top-up at a time. " +
			"A declined automatic top-up switches it off (`wallet.updated`). Absent fields keep their values."},
		func(ctx context.Context, in *struct {
			IDPath
			Body wallet.Patch
		}) (*Body[wallet.Wallet], error) {
			return inTx(ctx, s, func(tx *store.Tx) (wallet.Wallet, error) {
				return s.Wallets.Update(ctx, tx, principal(ctx), in.ID, in.Body)
			})
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-wallet-activity", Method: http.MethodGet, Path: "/v1/wallets/{id}/activity", Tags: []string{W},
		Summary: "List a wallet's activity",
		Description: "The wallet's ledger entries, newest first: top-ups, discounts, session holds, charges and releases, refunds and " +
			"adjustments, each with the balance and available balance right after it. Pages never skip or repeat lines."},
		func(ctx context.Context, in *struct {
			IDPath
			Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
			Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
		}) (*ListOutput[wallet.Activity], error) {
			as, more, err := wallet.Activities(ctx, s.db.Q(), principal(ctx), in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(as, more, func(a wallet.Activity) string { return a.ID }), nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "create-wallet-adjustment", Method: http.MethodPost, Path: "/v1/wallets/{id}/adjustments",
		Tags: []string{W}, DefaultStatus: http.StatusCreated,
		Summary: "Adjust a wallet's balance",
		Description: "Credits (`amount` > 0) or debits (`amount` < 0) the wallet against the organization's promotions account, with a " +
			"required `reason`. A debit beyond the available balance is refused with `409 insufficient_funds`; a wallet never goes below zero. " +
			"Sends `wallet.updated`."},
		func(ctx context.Context, in *struct {
			IDPath
			Body wallet.AdjustmentInput
		}) (*Body[wallet.Adjustment], error) {
			return inTx(ctx, s, func(tx *store.Tx) (wallet.Adjustment, error) {
				return s.Wallets.Adjust(ctx, tx, principal(ctx), in.ID, in.Body)
			})
		})
}
