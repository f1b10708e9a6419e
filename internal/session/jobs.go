package session

import (
	"context"
	"strconv"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/store"
)

const (
	jobRemoteStart    = "session.remote_start"
	jobStartTimeout   = "session.start_timeout"
	jobRemoteStop     = "session.remote_stop"
	jobStopTimeout    = "session.stop_timeout"
	jobCharge         = "session.charge"
	jobCheckout       = "session.checkout"
	jobCapture        = "session.capture"
	jobCancelAuth     = "session.cancel_authorization"
	jobExpireCheckout = "session.expire_checkout"
	jobPaymentExpiry  = "session.payment_expiry"
	jobMeterInterval  = "session.meter_interval"
)

type ref struct {
	Session string `json:"session"`
}

type stopRef struct {
	Session string `json:"session"`
	Attempt int    `json:"attempt"`
}

func (s *Service) registerJobs() {
	s.jobs.Handle(jobRemoteStart, s.remoteStartJob)
	s.jobs.Handle(jobStartTimeout, s.startTimeoutJob)
	s.jobs.Handle(jobRemoteStop, s.remoteStopJob)
	s.jobs.Handle(jobStopTimeout, s.stopTimeoutJob)
	s.jobs.Handle(jobCharge, s.chargeJob)
	s.jobs.Handle(jobCheckout, s.checkoutJob)
	s.jobs.Handle(jobCapture, s.captureJob)
	s.jobs.Handle(jobCancelAuth, s.cancelAuthJob)
	s.jobs.Handle(jobExpireCheckout, s.expireCheckoutJob)
	s.jobs.Handle(jobPaymentExpiry, s.paymentExpiryJob)
	s.jobs.Handle(jobRefund, s.refundJob)
	s.jobs.Handle(jobMeterInterval, s.meterIntervalJob)
}

// remoteStartJob sends RemoteStartTransaction. A charger that refuses fails
// the session at once; one that cannot be reached is tried again until the
// start timeout gives up.
func (s *Service) remoteStartJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	var x *Session
	var connNumber int
	// Group-committed with other writes (store.DB.Batch): a job's small
	// write need not hold the database's one writer alone.
	err := s.db.Batch(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if x, err = loadAny(ctx, tx, r.Session); err != nil {
			return err
		}
		if x.Status != StatusCreated && x.Status != StatusWaitingToStart {
			x = nil
			return nil
		}
		conn, err := network.GetConnector(ctx, tx, x.principal(), x.Connector)
		if err != nil {
			return err
		}
		connNumber = conn.ConnectorNumber
		first := x.Status == StatusCreated
		x.Status = StatusWaitingToStart
		x.StartAttempts++
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		if first {
			return s.emit(ctx, tx, x, "session.updated")
		}
		return nil
	})
	if err != nil || x == nil {
		return err
	}
	resp, err := s.chargers.Call(ctx, x.Chargestation, &ocpp16.RemoteStartTransactionRequest{ConnectorId: &connNumber, IdTag: x.idTag})
	if err != nil {
		// Offline, timed out or a CALLERROR: try again shortly; the start
		// timeout ends the attempts.
		s.log.Info("session: remote start not delivered; retrying", "session", x.ID, "err", err)
		return jobs.RetryAfter(err, 5*time.Second)
	}
	if accepted(resp) {
		return nil // the charger's StartTransaction moves the session on
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil || x.Status != StatusWaitingToStart {
			return err
		}
		return s.failStart(ctx, tx, x, "the charger rejected the remote start")
	})
}

// failStart ends a session that did not start: failed (canceled for payment
// links, as spec 001 names it), its payment released.
func (s *Service) failStart(ctx context.Context, tx *store.Tx, x *Session, reason string) error {
	x.Status, x.FailureReason = StatusFailed, reason
	event := "session.failed"
	if x.Type == TypePaymentLink {
		x.Status, event = StatusCanceled, "session.canceled"
	}
	if err := s.cancelStartTimers(ctx, tx, x); err != nil {
		return err
	}
	if err := s.releasePayment(ctx, tx, x); err != nil {
		return err
	}
	if err := save(ctx, tx, x); err != nil {
		return err
	}
	return s.emit(ctx, tx, x, event)
}

func (s *Service) startTimeoutJob(ctx context.Context, j *jobs.Job) error {
	var r ref
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil || (x.Status != StatusWaitingToStart && x.Status != StatusCreated) {
			return err
		}
		if err := j.CompleteIn(ctx, tx); err != nil {
			return err
		}
		return s.failStart(ctx, tx, x, "the charger did not start the session in time")
	})
}

// remoteStopJob sends RemoteStopTransaction. The session stays in
// waiting_to_stop until the charger's StopTransaction ends it. A charger
// that refuses is known to be still charging: the session is running again
// (started) and the app is told the stop failed. A charger that cannot be
// reached, or errs, leaves the outcome unknown: stop_failed.
func (s *Service) remoteStopJob(ctx context.Context, j *jobs.Job) error {
	var r stopRef
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	x, err := s.loadForJob(ctx, r.Session)
	if err != nil || x.Status != StatusWaitingToStop || x.StopAttempts != r.Attempt {
		return err
	}
	resp, err := s.chargers.Call(ctx, x.Chargestation, &ocpp16.RemoteStopTransactionRequest{TransactionId: int(*x.TransactionID)})
	if err == nil && accepted(resp) {
		return nil
	}
	reason := "the charger rejected the stop"
	if err != nil {
		reason = "the stop did not reach the charger: " + errText(err)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err2 := loadAny(ctx, tx, r.Session)
		if err2 != nil || x.Status != StatusWaitingToStop || x.StopAttempts != r.Attempt {
			return err2
		}
		if _, err := s.jobs.Cancel(ctx, tx, "stop_timeout:"+x.ID); err != nil {
			return err
		}
		x.FailureReason = reason
		if err == nil { // refused: still charging
			x.Status = StatusStarted
			if x.PauseRequested {
				x.Status = StatusPaused
			}
		} else {
			x.Status = StatusStopFailed
		}
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.stop_failed")
	})
}

func errText(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return err.Error()
}

func (s *Service) stopTimeoutJob(ctx context.Context, j *jobs.Job) error {
	var r stopRef
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		x, err := loadAny(ctx, tx, r.Session)
		if err != nil || x.Status != StatusWaitingToStop {
			return err
		}
		if err := j.CompleteIn(ctx, tx); err != nil {
			return err
		}
		x.Status, x.FailureReason = StatusStopFailed, "the charger did not confirm the stop in time"
		if err := save(ctx, tx, x); err != nil {
			return err
		}
		return s.emit(ctx, tx, x, "session.stop_failed")
	})
}

type intervalRef struct {
	Station string `json:"station"`
	Seconds int    `json:"seconds"`
}

// setMeterInterval asks a charger for meter values every seconds (a job:
// the charger is called outside the transaction). Capped sessions get the
// organization's shorter capped_meter_value_interval so that auto-stop sees
// the cost often enough; the normal interval is restored when they end.
func (s *Service) setMeterInterval(ctx context.Context, tx *store.Tx, stationID string, seconds int) error {
	_, err := s.jobs.Enqueue(ctx, tx, jobs.New{Kind: jobMeterInterval, Payload: intervalRef{stationID, seconds}, MaxAttempts: 3})
	return err
}

func (s *Service) meterIntervalJob(ctx context.Context, j *jobs.Job) error {
	var r intervalRef
	if err := j.Decode(&r); err != nil {
		return jobs.Permanent(err)
	}
	resp, err := s.chargers.Call(ctx, r.Station, &ocpp16.ChangeConfigurationRequest{Key: "MeterValueSampleInterval", Value: strconv.Itoa(r.Seconds)})
	if err != nil {
		return err
	}
	if c, ok := resp.(*ocpp16.ChangeConfigurationResponse); ok && c.Status != ocpp16.ConfigurationAccepted {
		// The charger does not allow it: auto-stop works with what it sends.
		s.log.Info("session: charger keeps its meter value interval", "station", r.Station, "status", c.Status)
	}
	return nil
}
