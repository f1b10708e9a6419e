package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/wallet"
)

// MethodPath names one of a user's saved payment methods.
type MethodPath struct {
	IDPath
	PM string `path:"pm" pattern:"^[0-9a-f]{24}$" doc:"Payment method id"`
}

func (s *Server) registerPaymentMethods() {
	const P = "Payment methods"
	huma.Register(s.api, huma.Operation{OperationID: "list-payment-methods", Method: http.MethodGet, Path: "/v1/users/{id}/payment_methods",
		Tags: []string{P}, Summary: "List a user's saved payment methods",
		Description: "Cards the driver saved on a top-up page: the provider's display data only (brand, last4, exp_month, exp_year), " +
			"never card numbers. The default method comes first."},
		func(ctx context.Context, in *IDPath) (*ListOutput[wallet.PaymentMethod], error) {
			ms, err := wallet.ListUserMethods(ctx, s.db.Q(), principal(ctx), in.ID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(ms, false, func(m wallet.PaymentMethod) string { return m.ID }), nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "set-default-payment-method", Method: http.MethodPost,
		Path: "/v1/users/{id}/payment_methods/{pm}/default", Tags: []string{P}, DefaultStatus: http.StatusOK,
		Summary: "Make a saved payment method the user's default", Description: "Sends `user.updated`."},
		func(ctx context.Context, in *MethodPath) (*Body[wallet.PaymentMethod], error) {
			return inTx(ctx, s, func(tx *store.Tx) (wallet.PaymentMethod, error) {
				return s.Wallets.SetDefaultMethod(ctx, tx, principal(ctx), in.ID, in.PM)
			})
		})
	huma.Register(s.api, huma.Operation{OperationID: "delete-payment-method", Method: http.MethodDelete,
		Path: "/v1/users/{id}/payment_methods/{pm}", Tags: []string{P}, Summary: "Delete a saved payment method",
		Description: "The newest remaining method becomes the default; an automatic top-up that used the method is switched off " +
			"(`wallet.updated`). Sends `user.updated`."},
		func(ctx context.Context, in *MethodPath) (*Body[Deleted], error) {
			return deleted(ctx, in.PM, s.db.InTx(ctx, func(tx *store.Tx) error {
				return s.Wallets.DeleteMethod(ctx, tx, principal(ctx), in.ID, in.PM)
			}))
		})
}
