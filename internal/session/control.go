package session

import (
	"context"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// ErrParkingStop refuses an API stop on a rate with PARKING_TIME (spec 000):
// only unplugging, or the auto-stop, ends such a session, so that the
// overstay is measured.
var ErrParkingStop = apperr.New(apperr.NotAllowed, "stop_not_allowed_parking_rate",
	"This session's rate has a PARKING_TIME component: it cannot be stopped through the API; it ends when the driver unplugs the cable")

// Stop asks the charger to stop the session. Stopping a session that has
// already ended returns it unchanged (stop is idempotent).
func (s *Service) Stop(ctx context.Context, p org.Principal, sessionID string) (*Session, error) {
	var x *Session
	// Group-committed with other writes (store.DB.Batch): an API stop is a
	// small write, and on SQLite a transaction of its own would hold the
	// database's one writer for as long as several group-committed writes.
	err := s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if x, err = load(ctx, tx, tx.DB.ForUpdate(), p, sessionID); err != nil {
			return err
		}
		switch x.Status {
		case StatusCreated, StatusWaitingToStart:
			return s.abandon(ctx, tx, x)
		case StatusStarted, StatusPaused, StatusStopFailed:
			t, _, err := x.parsedTariff()
			if err != nil {
				return err
			}
			if t.HasParkingTime() {
				return ErrParkingStop
			}
			return s.requestStop(ctx, tx, x, "")
		}
		return nil // waiting_to_stop, ended, completed, failed, canceled, refunded: nothing to do
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// abandon gives up a session that has not started (the driver changed their
// mind); a charger that starts it anyway is stopped at once.
func (s *Service) abandon(ctx context.Context, tx *store.Tx, x *Session) error {
	x.Status, x.FailureReason = StatusCanceled, "stopped before the charger started"
	if err := s.cancelStartTimers(ctx, tx, x); err != nil {
		return err
	}
	if err := s.releasePayment(ctx, tx, x); err != nil {
		return err
	}
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	return s.emit(ctx, tx, x, "session.canceled")
}

func (s *Service) cancelStartTimers(ctx context.Context, tx *store.Tx, x *Session) error {
	for _, k := range []string{"remote_start:", "start_timeout:", "start_window:", "payment_expiry:"} {
		if _, err := s.jobs.Cancel(ctx, tx, k+x.ID); err != nil {
			return err
		}
	}
	return nil
}

// requestStop moves a running session to waiting_to_stop and has a job send
// RemoteStopTransaction; reason is recorded for auto-stops.
func (s *Service) requestStop(ctx context.Context, tx *store.Tx, x *Session, reason string) error {
	o, err := org.Get(ctx, tx, x.OrgID)
	if err != nil {
		return err
	}
	x.Status = StatusWaitingToStop
	x.StopAttempts++
	if reason != "" {
		x.FailureReason = reason
	}
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	if _, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobRemoteStop, Payload: stopRef{x.ID, x.StopAttempts}, MaxAttempts: 5}); err != nil {
		return err
	}
	if err := s.jobs.Schedule(ctx, tx, jobs.New{Kind: jobStopTimeout, Payload: stopRef{x.ID, x.StopAttempts}, UniqueKey: "stop_timeout:" + x.ID,
		RunAt: time.Now().Add(time.Duration(o.Configurations.StopTimeout) * time.Second)}); err != nil {
		return err
	}
	return s.emit(ctx, tx, x, "session.updated")
}

// The charging profile a pause installs: a TxProfile limiting the
// transaction to 0 W, removed on resume.
const pauseProfileID = 714001

// Pause suspends the energy flow with a charging profile; the session
// becomes paused when the charger confirms (SuspendedEVSE).
func (s *Service) Pause(ctx context.Context, p org.Principal, sessionID string) (*Session, error) {
	return s.setPause(ctx, p, sessionID, true)
}

// Resume lifts a pause; the session is started again when the charger
// reports Charging.
func (s *Service) Resume(ctx context.Context, p org.Principal, sessionID string) (*Session, error) {
	return s.setPause(ctx, p, sessionID, false)
}

func (s *Service) setPause(ctx context.Context, p org.Principal, sessionID string, pause bool) (*Session, error) {
	x, err := load(ctx, s.db.Q(), "", p, sessionID)
	if err != nil {
		return nil, err
	}
	switch {
	case pause && x.Status == StatusPaused, !pause && x.Status == StatusStarted && !x.PauseRequested:
		return x, nil // already so
	case x.Status != StatusStarted && x.Status != StatusPaused:
		return nil, apperr.Newf(apperr.Conflict, "session_not_running", "Only a running session can be paused or resumed (status %s)", x.Status)
	}
	conn, err := network.GetConnector(ctx, s.db.Q(), p, x.Connector)
	if err != nil {
		return nil, err
	}
	// Record the request before asking the charger: its confirming status
	// (SuspendedEVSE, Charging) can arrive before its answer to us.
	if err := s.markPause(ctx, p, sessionID, pause); err != nil {
		return nil, err
	}
	var req ocpp16.Request
	if pause {
		txID := int(*x.TransactionID)
		req = &ocpp16.SetChargingProfileRequest{ConnectorId: conn.ConnectorNumber, CsChargingProfiles: ocpp16.ChargingProfile{
			ChargingProfileId: pauseProfileID, TransactionId: &txID, StackLevel: 9, ChargingProfilePurpose: ocpp16.PurposeTxProfile,
			ChargingProfileKind: ocpp16.KindAbsolute, ChargingSchedule: ocpp16.ChargingSchedule{ChargingRateUnit: ocpp16.RateUnitW,
				ChargingSchedulePeriod: []ocpp16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: 0}}}}}
	} else {
		pid := pauseProfileID
		req = &ocpp16.ClearChargingProfileRequest{Id: &pid}
	}
	resp, err := s.chargers.Call(ctx, x.Chargestation, req)
	if err == nil && !accepted(resp) {
		err = apperr.Newf(apperr.Conflict, "charger_refused", "The charger refused to %s the session", map[bool]string{true: "pause", false: "resume"}[pause])
	}
	if err != nil {
		if pause {
			_ = s.markPause(context.WithoutCancel(ctx), p, sessionID, false)
		}
		return nil, err
	}
	return load(ctx, s.db.Q(), "", p, sessionID)
}

// markPause records that a pause was (or no longer is) requested.
func (s *Service) markPause(ctx context.Context, p org.Principal, sessionID string, pause bool) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := load(ctx, tx, tx.DB.ForUpdate(), p, sessionID)
		if err != nil || x.PauseRequested == pause || (x.Status != StatusStarted && x.Status != StatusPaused) {
			return err
		}
		x.PauseRequested = pause
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.updated")
	})
}

// accepted reads the status of a charger's answer.
func accepted(resp any) bool {
	switch r := resp.(type) {
	case *ocpp16.SetChargingProfileResponse:
		return r.Status == ocpp16.ChargingProfileAccepted
	case *ocpp16.ClearChargingProfileResponse:
		return r.Status == ocpp16.ClearChargingProfileAccepted
	case *ocpp16.RemoteStartTransactionResponse:
		return r.Status == ocpp16.RemoteAccepted
	case *ocpp16.RemoteStopTransactionResponse:
		return r.Status == ocpp16.RemoteAccepted
	}
	return false
}

// RetryPayment charges a postpaid session's debt again.
func (s *Service) RetryPayment(ctx context.Context, p org.Principal, sessionID string) (*Session, error) {
	var x *Session
	// Group-committed with other writes (store.DB.Batch): an API stop is a
	// small write, and on SQLite a transaction of its own would hold the
	// database's one writer for as long as several group-committed writes.
	err := s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if x, err = load(ctx, tx, tx.DB.ForUpdate(), p, sessionID); err != nil {
			return err
		}
		if x.Payment == nil || x.Payment.Status != PayFailed || x.Status != StatusCompleted {
			return apperr.Newf(apperr.Conflict, "no_debt", "Session %s has no failed payment to retry", x.ID)
		}
		method, err := s.defaultMethod(ctx, tx, p, x.User)
		if err != nil {
			return err
		}
		x.Payment.Status, x.Payment.paymentMethod, x.Payment.customer, x.Payment.FailureCode, x.Payment.FailureMessage = PayPending, method.Token, method.Customer, "", ""
		x.Payment.attempts++
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		if err := s.enqueueSettle(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.updated")
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}
