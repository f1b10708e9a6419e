package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/webhook"
)

// RotateSecretInput rotates an endpoint's signing secret.
type RotateSecretInput struct {
	ExpireOldAfterSeconds *int `json:"expire_old_after_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the previous secret keeps signing (a second v1 signature), in seconds; default 86400, 0 retires it at once"`
}

// RedeliverInput chooses where an event is sent again.
type RedeliverInput struct {
	Endpoint string `json:"endpoint,omitempty" pattern:"^[0-9a-f]{24}$" doc:"Send to this endpoint only, even if it is not subscribed to the event's type; default: every enabled endpoint subscribed to it"`
}

func (s *Server) registerWebhooks() {
	if s.Webhooks == nil { // a server built without webhook delivery (tests of other parts)
		return
	}
	const W = "Webhooks"
	create := op("create-webhook", http.MethodPost, "/v1/webhooks", W, "Create a webhook endpoint")
	create.Description = "Events of the key's organization and mode are POSTed to `url`, signed per Standard Webhooks. " +
		"The answer holds the signing `secret` (`whsec_...`): store it, it is not shown again. " +
		"In live mode, a URL resolving to a loopback, private, link-local, CGNAT, multicast or unspecified address is refused: 422 `webhook_url_not_public`."
	huma.Register(s.api, create, func(ctx context.Context, in *struct{ Body webhook.EndpointInput }) (*Body[webhook.Endpoint], error) {
		e, err := s.Webhooks.Create(ctx, principal(ctx), in.Body)
		return get(ctx, e, err)
	})
	huma.Register(s.api, op("list-webhooks", http.MethodGet, "/v1/webhooks", W, "List webhook endpoints"),
		func(ctx context.Context, in *ListParams) (*ListOutput[webhook.Endpoint], error) {
			es, more, err := webhook.List(ctx, s.db.Q(), principal(ctx), in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(es, more, func(e webhook.Endpoint) string { return e.ID }), nil
		})
	huma.Register(s.api, op("get-webhook", http.MethodGet, "/v1/webhooks/{id}", W, "Get a webhook endpoint"),
		func(ctx context.Context, in *IDPath) (*Body[webhook.Endpoint], error) {
			e, err := webhook.Get(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, e, err)
		})
	update := op("update-webhook", http.MethodPatch, "/v1/webhooks/{id}", W, "Change a webhook endpoint")
	update.Description = "Only the given fields change. `disabled: true` stops deliveries (pending retries are dropped); " +
		"`disabled: false` enables the endpoint again, also after Joule disabled it (410 Gone or sustained failure)."
	huma.Register(s.api, update, func(ctx context.Context, in *struct {
		IDPath
		Body webhook.EndpointPatch
	}) (*Body[webhook.Endpoint], error) {
		e, err := s.Webhooks.Update(ctx, principal(ctx), in.ID, in.Body)
		return get(ctx, e, err)
	})
	huma.Register(s.api, op("delete-webhook", http.MethodDelete, "/v1/webhooks/{id}", W, "Delete a webhook endpoint, its pending deliveries and its log"),
		func(ctx context.Context, in *IDPath) (*Body[Deleted], error) {
			return deleted(ctx, in.ID, s.Webhooks.Delete(ctx, principal(ctx), in.ID))
		})
	rotate := op("rotate-webhook-secret", http.MethodPost, "/v1/webhooks/{id}/rotate_secret", W, "Give the endpoint a new signing secret; shown once")
	rotate.DefaultStatus = http.StatusOK
	rotate.Description = "The previous secret keeps signing for `expire_old_after_seconds` (default 24 h): each delivery then carries two " +
		"`v1,` signatures, so the receiver can switch to the new secret without rejecting deliveries in between."
	huma.Register(s.api, rotate, func(ctx context.Context, in *struct {
		IDPath
		Body *RotateSecretInput
	}) (*Body[webhook.Endpoint], error) {
		ttl := webhook.DefaultOldSecretTTL
		if in.Body != nil && in.Body.ExpireOldAfterSeconds != nil {
			ttl = time.Duration(*in.Body.ExpireOldAfterSeconds) * time.Second
		}
		e, err := s.Webhooks.RotateSecret(ctx, principal(ctx), in.ID, ttl)
		return get(ctx, e, err)
	})
	huma.Register(s.api, op("list-webhook-deliveries", http.MethodGet, "/v1/webhooks/{id}/deliveries", W,
		"List the endpoint's delivery attempts, newest first"),
		func(ctx context.Context, in *struct {
			IDPath
			ListParams
			Event   string `query:"event" pattern:"^[0-9a-f]{24}$" doc:"Only attempts to deliver this event"`
			Success string `query:"success" enum:"true,false" doc:"Only successful (2xx) or only failed attempts"`
		}) (*ListOutput[webhook.DeliveryAttempt], error) {
			f := webhook.AttemptFilter{Event: in.Event, Cursor: in.Cursor, Limit: in.Limit}
			if in.Success != "" {
				ok := in.Success == "true"
				f.Succeeded = &ok
			}
			as, more, err := webhook.Attempts(ctx, s.db.Q(), principal(ctx), in.ID, f)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(as, more, func(a webhook.DeliveryAttempt) string { return a.ID }), nil
		})
	redeliver := op("redeliver-event", http.MethodPost, "/v1/events/{id}/redeliver", "Events", "Send an event again")
	redeliver.DefaultStatus = http.StatusAccepted
	redeliver.Description = "Enqueues a new delivery, with its own retries, to every enabled endpoint subscribed to the event's type, " +
		"or to the given `endpoint` even if it is not subscribed. The receiver gets the same `webhook-id` as before and can de-duplicate. " +
		"A disabled endpoint gives 409 `webhook_endpoint_disabled`."
	huma.Register(s.api, redeliver, func(ctx context.Context, in *struct {
		IDPath
		Body *RedeliverInput
	}) (*Body[webhook.Redelivery], error) {
		var endpoint string
		if in.Body != nil {
			endpoint = in.Body.Endpoint
		}
		r, err := s.Webhooks.Redeliver(ctx, principal(ctx), in.ID, endpoint)
		return get(ctx, r, err)
	})
}
