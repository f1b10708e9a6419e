package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// OrganizationPatch changes some of the organization's settings; absent
// fields keep their values.
type OrganizationPatch struct {
	Name           *string             `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Configurations *ConfigurationPatch `json:"configurations,omitempty"`
}

// ConfigurationPatch mirrors org.Configurations with every field optional.
type ConfigurationPatch struct {
	Session                     *int64  `json:"session,omitempty" minimum:"0"`
	MinimumAmountToStartSession *int64  `json:"minimum_amount_to_start_session,omitempty" minimum:"1"`
	PaymentExpiryTime           *int    `json:"payment_expiry_time,omitempty" minimum:"30" maximum:"86400"`
	TopUpExpiryTime             *int    `json:"top_up_expiry_time,omitempty" minimum:"30" maximum:"86400"`
	StartWindow                 *int    `json:"start_window,omitempty" minimum:"10" maximum:"86400"`
	WaitingToStartTimeout       *int    `json:"waiting_to_start_timeout,omitempty" minimum:"5" maximum:"3600"`
	ConnectorStartCooldown      *int    `json:"connector_start_cooldown,omitempty" minimum:"0" maximum:"3600"`
	StopTimeout                 *int    `json:"stop_timeout,omitempty" minimum:"5" maximum:"3600"`
	AutoStopMargin              *int    `json:"auto_stop_margin,omitempty" minimum:"0" maximum:"3600"`
	Currency                    *string `json:"currency,omitempty" pattern:"^[A-Z]{3}$"`
	HeartbeatInterval           *int    `json:"heartbeat_interval,omitempty" minimum:"10" maximum:"86400"`
	HeartbeatTimeout            *int    `json:"heartbeat_timeout,omitempty" minimum:"3" maximum:"259200"`
	MeterValueInterval          *int    `json:"meter_value_interval,omitempty" minimum:"1" maximum:"3600"`
	CappedMeterValueInterval    *int    `json:"capped_meter_value_interval,omitempty" minimum:"1" maximum:"3600"`
	AllowAutoRegistration       *bool   `json:"allow_auto_registration,omitempty"`
	DriveSessionType            *string `json:"drive_session_type,omitempty" enum:"postpaid,wallet"`
}

func (p *ConfigurationPatch) apply(c *org.Configurations) {
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	if p.Session != nil {
		c.Session = *p.Session
	}
	if p.MinimumAmountToStartSession != nil {
		c.MinimumAmountToStartSession = *p.MinimumAmountToStartSession
	}
	set(&c.PaymentExpiryTime, p.PaymentExpiryTime)
	set(&c.TopUpExpiryTime, p.TopUpExpiryTime)
	set(&c.StartWindow, p.StartWindow)
	set(&c.WaitingToStartTimeout, p.WaitingToStartTimeout)
	set(&c.ConnectorStartCooldown, p.ConnectorStartCooldown)
	set(&c.StopTimeout, p.StopTimeout)
	set(&c.AutoStopMargin, p.AutoStopMargin)
	set(&c.HeartbeatInterval, p.HeartbeatInterval)
	set(&c.HeartbeatTimeout, p.HeartbeatTimeout)
	set(&c.MeterValueInterval, p.MeterValueInterval)
	set(&c.CappedMeterValueInterval, p.CappedMeterValueInterval)
	if p.Currency != nil {
		c.Currency = *p.Currency
	}
	if p.AllowAutoRegistration != nil {
		c.AllowAutoRegistration = *p.AllowAutoRegistration
	}
	if p.DriveSessionType != nil {
		c.DriveSessionType = *p.DriveSessionType
	}
}

func (s *Server) registerOrganization() {
	huma.Register(s.api, huma.Operation{
		OperationID: "get-organization", Method: http.MethodGet, Path: "/v1/organization", Tags: []string{"Organization"},
		Summary: "Get the organization and its configuration",
	}, func(ctx context.Context, _ *struct{}) (*Body[org.Organization], error) {
		o, err := org.Get(ctx, s.db.Q(), principal(ctx).OrgID)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(o), nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "update-organization", Method: http.MethodPatch, Path: "/v1/organization", Tags: []string{"Organization"},
		Summary:     "Change the organization's name or configuration",
		Description: "Only the given fields change. Durations are seconds, amounts are cents.",
	}, func(ctx context.Context, in *struct{ Body OrganizationPatch }) (*Body[org.Organization], error) {
		var o org.Organization
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if o, err = org.Get(ctx, tx, principal(ctx).OrgID); err != nil {
				return err
			}
			if in.Body.Name != nil {
				o.Name = *in.Body.Name
			}
			if in.Body.Configurations != nil {
				in.Body.Configurations.apply(&o.Configurations)
			}
			return org.Update(ctx, tx, &o)
		})
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(o), nil
	})
}

// EventListInput filters GET /v1/events.
type EventListInput struct {
	ListParams
	Type          []string  `query:"type,explode" doc:"Event types (session.started) or prefixes (session.*); repeat or comma-separate"`
	Object        string    `query:"object" maxLength:"64" doc:"Id of the object the events are about"`
	CreatedAfter  time.Time `query:"created_after" doc:"RFC 3339; events at or after this time"`
	CreatedBefore time.Time `query:"created_before" doc:"RFC 3339; events before this time"`
}

func (s *Server) registerEvents() {
	huma.Register(s.api, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/v1/events", Tags: []string{"Events"},
		Summary: "List events, newest first",
	}, func(ctx context.Context, in *EventListInput) (*ListOutput[events.Event], error) {
		p := principal(ctx)
		var types []string
		for _, t := range in.Type {
			for _, x := range strings.Split(t, ",") {
				if x = strings.TrimSpace(x); x != "" {
					types = append(types, x)
				}
			}
		}
		evs, more, err := events.List(ctx, s.db.Q(), p.OrgID, p.TestMode, events.Filter{Types: types, ObjectID: in.Object,
			CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, fail(ctx, err)
		}
		return page(evs, more, func(e events.Event) string { return e.ID }), nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "get-event", Method: http.MethodGet, Path: "/v1/events/{id}", Tags: []string{"Events"},
		Summary: "Get an event",
	}, func(ctx context.Context, in *IDPath) (*Body[events.Event], error) {
		p := principal(ctx)
		e, err := events.Get(ctx, s.db.Q(), p.OrgID, p.TestMode, in.ID)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(e), nil
	})
}
