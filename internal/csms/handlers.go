package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// handler routes chargers' messages. Every message, valid or not, proves
// the charger alive.
func (s *Service) handler() ocppj.Handler {
	mux := ocppj.NewMux()
	ocpp16.Handle(mux, s.bootNotification)
	ocpp16.Handle(mux, s.heartbeat)
	ocpp16.Handle(mux, s.statusNotification)
	ocpp16.Handle(mux, s.authorize)
	ocpp16.Handle(mux, s.startTransaction)
	ocpp16.Handle(mux, s.meterValues)
	ocpp16.Handle(mux, s.stopTransaction)
	ocpp16.Handle(mux, s.dataTransfer)
	mux.Fallback(ocpp16.Unsupported)
	return ocppj.HandlerFunc(func(ctx context.Context, c *ocppj.Conn, action string, payload json.RawMessage) (any, error) {
		stationFrom(ctx).touch()
		s.metrics.messages.WithLabelValues(action).Inc()
		start := time.Now()
		defer func() { s.metrics.messageDuration.WithLabelValues(action).Observe(time.Since(start).Seconds()) }()
		return mux.HandleCall(ctx, c, action, payload)
	})
}

func (s *Service) bootNotification(ctx context.Context, c *ocppj.Conn, req *ocpp16.BootNotificationRequest) (any, error) {
	sta := stationFrom(ctx)
	info := network.BootInfo{Vendor: req.ChargePointVendor, Model: req.ChargePointModel, SerialNumber: req.ChargePointSerialNumber, FirmwareVersion: req.FirmwareVersion}
	err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE chargestations SET boot_info = $1, updated_at = $2 WHERE id = $3`, store.JSON(info), store.Now(), sta.st.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("csms: record boot: %w", err)
	}
	if sta.meterInt > 0 {
		// Ask for the organization's sample interval once the charger has its answer.
		c.AfterReply(func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), s.opt.CallTimeout)
				defer cancel()
				_, err := s.Call(ctx, sta.st.ID, &ocpp16.ChangeConfigurationRequest{Key: "MeterValueSampleInterval", Value: strconv.Itoa(sta.meterInt)})
				if err != nil {
					s.log.Debug("csms: configure sample interval", "identity", sta.st.Identity, "err", err)
				}
			}()
		})
	}
	return &ocpp16.BootNotificationResponse{Status: ocpp16.RegistrationAccepted, CurrentTime: time.Now().UTC(), Interval: sta.interval}, nil
}

func (s *Service) heartbeat(ctx context.Context, _ *ocppj.Conn, _ *ocpp16.HeartbeatRequest) (any, error) {
	return &ocpp16.HeartbeatResponse{CurrentTime: time.Now().UTC()}, nil
}

func (s *Service) dataTransfer(ctx context.Context, _ *ocppj.Conn, req *ocpp16.DataTransferRequest) (any, error) {
	// No vendor extensions are known: say so, as the spec asks.
	return &ocpp16.DataTransferResponse{Status: ocpp16.DataTransferUnknownVendorID}, nil
}

// statusNotification stores a connector's status unless a newer one is
// already known (chargers replay queued notifications after reconnecting).
func (s *Service) statusNotification(ctx context.Context, _ *ocppj.Conn, req *ocpp16.StatusNotificationRequest) (any, error) {
	sta := stationFrom(ctx)
	if req.ConnectorId == 0 {
		return &ocpp16.StatusNotificationResponse{}, nil // the charge point as a whole: nothing to store per connector
	}
	at := time.Now().UTC()
	if req.Timestamp != nil && !req.Timestamp.IsZero() {
		at = req.Timestamp.UTC()
	}
	err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		conn, err := s.connector(ctx, tx, sta, req.ConnectorId)
		if err != nil {
			return err
		}
		if conn.StatusUpdatedAt != nil && conn.StatusUpdatedAt.After(at) {
			return nil // older than what we know
		}
		previous := conn.Status
		_, err = tx.ExecContext(ctx, `UPDATE connectors SET status = $1, status_updated_at = $2, updated_at = $3 WHERE id = $4`,
			string(req.Status), store.UTC(at), store.Now(), conn.ID)
		if err != nil {
			return fmt.Errorf("csms: store status: %w", err)
		}
		conn.Status, conn.StatusUpdatedAt = string(req.Status), &at
		if previous != conn.Status {
			data := map[string]any{"chargestation": sta.st.ID, "connector": conn, "status": conn.Status, "previous_status": previous,
				"error_code": req.ErrorCode, "info": req.Info, "timestamp": at}
			if _, err := s.outbox.Emit(ctx, tx, sta.p.OrgID, sta.p.TestMode, "chargestation.connector_status.updated", "connector", conn.ID, data); err != nil {
				return err
			}
		}
		if s.hooks != nil {
			return s.hooks.ConnectorStatus(ctx, tx, &sta.st, &conn, previous)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ocpp16.StatusNotificationResponse{}, nil
}

// connector finds the station's connector by OCPP number, adding it when
// the charger reports one the operator did not register: the charger knows
// its hardware best. One indexed read (every StatusNotification comes here).
func (s *Service) connector(ctx context.Context, tx *store.Tx, sta *station, number int) (network.Connector, error) {
	c, found, err := network.ConnectorByNumber(ctx, tx, sta.st.ID, number)
	if err != nil || found {
		return c, err
	}
	return network.CreateConnector(ctx, tx, sta.p, network.ConnectorInput{Chargestation: sta.st.ID, ConnectorNumber: number,
		EvseID: fmt.Sprintf("%s*%d", sta.st.Identity, number)})
}

func (s *Service) authorize(ctx context.Context, _ *ocppj.Conn, req *ocpp16.AuthorizeRequest) (any, error) {
	sta := stationFrom(ctx)
	return &ocpp16.AuthorizeResponse{IdTagInfo: ocpp16.IdTagInfo{Status: s.tagStatus(ctx, s.db.Q(), sta, req.IdTag)}}, nil
}

// tagStatus decides on an idTag: a user's active charging key is Accepted,
// a blocked one Blocked, anything else Invalid.
func (s *Service) tagStatus(ctx context.Context, q store.Querier, sta *station, idTag string) ocpp16.AuthorizationStatus {
	k, err := users.KeyByTag(ctx, q, sta.p, idTag)
	switch {
	case err == nil && k.Active:
		return ocpp16.AuthorizationAccepted
	case err == nil:
		return ocpp16.AuthorizationBlocked
	case !apperr.Is(err, "charging_key_not_found"):
		s.log.Error("csms: look up idTag", "identity", sta.st.Identity, "err", err)
	}
	return ocpp16.AuthorizationInvalid
}

// startTransaction records the transaction and always answers with a
// transactionId: a charger whose StartTransaction is not acknowledged
// retries it and may then drop it, so an unknown idTag is answered Invalid
// (the charger stops) rather than refused.
func (s *Service) startTransaction(ctx context.Context, _ *ocppj.Conn, req *ocpp16.StartTransactionRequest) (any, error) {
	sta := stationFrom(ctx)
	var t Transaction
	err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		t, err = s.recordStart(ctx, tx, sta, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ocpp16.StartTransactionResponse{TransactionId: int(t.ID), IdTagInfo: ocpp16.IdTagInfo{Status: ocpp16.AuthorizationStatus(t.IDTagStatus)}}, nil
}

func (s *Service) meterValues(ctx context.Context, _ *ocppj.Conn, req *ocpp16.MeterValuesRequest) (any, error) {
	sta := stationFrom(ctx)
	if req.TransactionId == nil {
		return &ocpp16.MeterValuesResponse{}, nil // connector-level samples outside a transaction: not billed
	}
	samples := make([]sample, 0, len(req.MeterValue))
	for i, mv := range req.MeterValue {
		r, err := ocpp16.ReadMeterValue(mv)
		if err != nil {
			// Acknowledge, but keep the fault visible: the charger would only resend it.
			s.fault(ctx, sta, ocpp16.ActionMeterValues, fmt.Sprintf("meterValue[%d]: %v", i, err), req)
			continue
		}
		samples = append(samples, sampleOf(r))
	}
	var t Transaction
	var found bool
	err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		t, found, err = s.recordSamples(ctx, tx, sta, int64(*req.TransactionId), samples)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		s.fault(ctx, sta, ocpp16.ActionMeterValues, fmt.Sprintf("unknown transactionId %d", *req.TransactionId), req)
	} else if s.hooks != nil && len(samples) > 0 {
		s.hooks.MeterSample(ctx, &sta.st, &t)
	}
	return &ocpp16.MeterValuesResponse{}, nil
}

func (s *Service) stopTransaction(ctx context.Context, _ *ocppj.Conn, req *ocpp16.StopTransactionRequest) (any, error) {
	sta := stationFrom(ctx)
	var samples []sample
	for _, mv := range req.TransactionData {
		if r, err := ocpp16.ReadMeterValue(mv); err == nil {
			samples = append(samples, sampleOf(r))
		}
	}
	var found bool
	err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		found, err = s.recordStop(ctx, tx, sta, req, samples)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		s.fault(ctx, sta, ocpp16.ActionStopTransaction, fmt.Sprintf("unknown transactionId %d", req.TransactionId), req)
	}
	resp := &ocpp16.StopTransactionResponse{}
	if req.IdTag != "" {
		resp.IdTagInfo = &ocpp16.IdTagInfo{Status: s.tagStatus(ctx, s.db.Q(), sta, req.IdTag)}
	}
	return resp, nil
}
