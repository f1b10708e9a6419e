package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
)

// CommandInput sends an OCPP 1.6 command to a charger.
type CommandInput struct {
	IDPath
	Command string         `path:"command" enum:"RemoteStartTransaction,RemoteStopTransaction,SetChargingProfile,ClearChargingProfile,ChangeConfiguration,GetConfiguration,TriggerMessage,Reset,UnlockConnector,ChangeAvailability,ClearCache,GetCompositeSchedule,DataTransfer"`
	Body    map[string]any `doc:"The command's OCPP 1.6 payload, e.g. {\"type\": \"Soft\"} for Reset"`
}

// CommandResult is the charger's answer.
type CommandResult struct {
	Command  string `json:"command"`
	Response any    `json:"response" doc:"The charger's OCPP confirmation payload"`
}

func (s *Server) registerCommands() {
	const C = "Charge stations"
	o := op("send-chargestation-command", http.MethodPost, "/v1/chargestations/{id}/commands/{command}", C, "Send an OCPP command to a charger and return its answer")
	o.DefaultStatus = http.StatusOK
	o.Description = "The payload is validated against the OCPP 1.6 schema before it is sent. A charger that is not connected gives 503 `chargestation_offline`; " +
		"one that does not answer in time 503 `charger_timeout`; one that answers with a CALLERROR 503 `charger_error`."
	huma.Register(s.api, o, func(ctx context.Context, in *CommandInput) (*Body[CommandResult], error) {
		if _, err := network.GetStation(ctx, s.db.Q(), principal(ctx), in.ID); err != nil {
			return nil, fail(ctx, err)
		}
		raw, _ := json.Marshal(in.Body)
		if in.Body == nil {
			raw = []byte("{}")
		}
		req, perr := ocpp16.DecodeRequest(in.Command, raw)
		if perr != nil {
			return nil, fail(ctx, apperr.Newf(apperr.Invalid, "invalid_command", "%s payload: %s (%s)", in.Command, perr.Description, perr.Code))
		}
		resp, err := s.CSMS.Call(ctx, in.ID, req)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(CommandResult{Command: in.Command, Response: resp}), nil
	})
	huma.Register(s.api, op("list-chargestation-faults", http.MethodGet, "/v1/chargestations/{id}/faults", C,
		"List messages the charger sent that were acknowledged but could not be applied"),
		func(ctx context.Context, in *struct {
			IDPath
			ListParams
		}) (*ListOutput[csms.Fault], error) {
			if _, err := network.GetStation(ctx, s.db.Q(), principal(ctx), in.ID); err != nil {
				return nil, fail(ctx, err)
			}
			fs, more, err := csms.Faults(ctx, s.db.Q(), principal(ctx), in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(fs, more, func(f csms.Fault) string { return f.ID }), nil
		})
}
