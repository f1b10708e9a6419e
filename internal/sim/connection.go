package sim

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
)

// run keeps the charger connected: dial, serve until the connection ends,
// honour an offline period, back off on failures, and dial again.
func (ch *Charger) run(ctx context.Context) {
	defer ch.wg.Done()
	delay := ch.fleet.cfg.ReconnectDelay
	for ctx.Err() == nil {
		ch.mu.Lock()
		offline := time.Until(ch.offlineUntil)
		ch.mu.Unlock()
		if offline > 0 && !sleep(ctx, nil, offline) {
			return
		}
		conn, err := ch.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ch.stats.connectFailures.Add(1)
			ch.fleet.stats.connectFailures.Add(1)
			ch.log.Debug("sim: connect failed", "error", err, "retry_in", delay)
			if !sleep(ctx, nil, delay) {
				return
			}
			delay = min(delay*2, ch.fleet.cfg.MaxReconnectDelay)
			continue
		}
		delay = ch.fleet.cfg.ReconnectDelay
		ch.stats.connects.Add(1)
		ch.fleet.stats.connects.Add(1)
		ch.connected(conn)
		err = conn.Serve(ctx)
		ch.disconnected(conn, err)
		if ctx.Err() == nil && !sleep(ctx, nil, delay) {
			return
		}
	}
}

func (ch *Charger) dial(ctx context.Context) (*ocppj.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, ch.fleet.cfg.DialTimeout)
	defer cancel()
	opts := ocppj.DialOptions{
		Options:    ch.fleet.cfg.Conn,
		Identity:   ch.cfg.Identity,
		HTTPClient: ch.fleet.httpClient,
	}
	opts.Handler = ch.mux
	if ch.cfg.Password != "" {
		opts.Username, opts.Password = ch.cfg.Identity, ch.cfg.Password
	}
	u := strings.TrimRight(ch.fleet.cfg.URL, "/") + "/" + url.PathEscape(ch.cfg.Identity)
	return ocppj.Dial(ctx, u, opts)
}

// connected installs a new connection. A charger that was already booted
// (a reconnect, not a reboot) does not boot again; it reports its
// connectors' current status after the messages it queued while away.
func (ch *Charger) connected(conn *ocppj.Conn) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.conn = conn
	if ch.booted {
		ch.log.Info("sim: reconnected")
		for _, c := range ch.connectors {
			ch.enqueueLocked(ch.statusMsgLocked(c))
		}
	}
	ch.kickSender()
	ch.notifyLocked()
}

func (ch *Charger) disconnected(conn *ocppj.Conn, err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.conn == conn {
		ch.conn = nil
	}
	ch.purgeLocked()
	ch.notifyLocked()
	if err != nil && !ch.stopped {
		ch.log.Info("sim: connection lost", "error", err, "queued", len(ch.queue))
	}
}

// boot sends BootNotification until the central system accepts it,
// waiting the interval it returns after Pending or Rejected. It returns
// early if the connection closes.
func (ch *Charger) boot(ctx context.Context, conn *ocppj.Conn) {
	for ctx.Err() == nil && !isDone(conn.Done()) {
		resp, err := ch.call(ctx, conn, ocpp16.ActionBootNotification, ch.bootRequest())
		if err != nil {
			sleep(ctx, conn, ch.fleet.cfg.ReconnectDelay)
			continue
		}
		conf := resp.(*ocpp16.BootNotificationResponse)
		if conf.Status == ocpp16.RegistrationAccepted {
			ch.bootAccepted(conf)
			return
		}
		wait := time.Duration(conf.Interval) * time.Second
		if wait <= 0 {
			wait = ch.fleet.cfg.ReconnectDelay
		}
		ch.log.Info("sim: boot not accepted", "status", conf.Status, "retry_in", wait)
		sleep(ctx, conn, wait)
	}
}

func (ch *Charger) bootRequest() *ocpp16.BootNotificationRequest {
	return &ocpp16.BootNotificationRequest{
		ChargePointVendor:       ch.cfg.Vendor,
		ChargePointModel:        ch.cfg.Model,
		ChargePointSerialNumber: ch.cfg.Identity,
		FirmwareVersion:         "joule-sim",
	}
}

// triggeredBootMsg is a BootNotification asked for by TriggerMessage: sent
// in queue order; its answer sets the heartbeat interval, and a refusal
// sends the charger back to booting.
func (ch *Charger) triggeredBootMsg() *outMsg {
	return &outMsg{
		action: ocpp16.ActionBootNotification,
		build:  func() (ocpp16.Request, bool) { return ch.bootRequest(), true },
		onReply: func(resp any) {
			conf := resp.(*ocpp16.BootNotificationResponse)
			ch.mu.Lock()
			defer ch.mu.Unlock()
			if conf.Status != ocpp16.RegistrationAccepted {
				ch.booted = false
				ch.kickSender()
				ch.notifyLocked()
				return
			}
			ch.boots++
			if ch.cfg.HeartbeatInterval <= 0 {
				ch.setHeartbeatLocked(time.Duration(conf.Interval) * time.Second)
			}
			ch.notifyLocked()
		},
	}
}

func (ch *Charger) bootAccepted(conf *ocpp16.BootNotificationResponse) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.booted = true
	ch.boots++
	if ch.bootedAt.IsZero() {
		ch.bootedAt = time.Now()
	}
	interval := time.Duration(conf.Interval) * time.Second
	if ch.cfg.HeartbeatInterval > 0 {
		interval = ch.cfg.HeartbeatInterval
	}
	ch.setHeartbeatLocked(interval)
	for _, c := range ch.connectors {
		ch.enqueueLocked(ch.statusMsgLocked(c))
	}
	if ch.cfg.Behavior == BehaviorReconnect && ch.boots == 1 {
		ch.dropTimer = time.AfterFunc(ch.cfg.After, func() {
			ch.log.Info("sim: reconnect behaviour: dropping the connection")
			ch.Disconnect()
		})
	}
	ch.notifyLocked()
}

// setHeartbeatLocked sets the heartbeat period; 0 stops heartbeats.
func (ch *Charger) setHeartbeatLocked(d time.Duration) {
	ch.hbInterval = d
	ch.settings.setSeconds(keyHeartbeatInterval, d)
	if d > 0 && !ch.stopped {
		ch.hbTimer.Reset(d)
	} else {
		ch.hbTimer.Stop()
	}
}

func (ch *Charger) heartbeatTick() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.stopped || ch.hbInterval <= 0 {
		return
	}
	if ch.onlineLocked() && !ch.queuedLocked(ocpp16.ActionHeartbeat) {
		ch.enqueueLocked(heartbeatMsg())
	}
	ch.hbTimer.Reset(ch.hbInterval)
}

func heartbeatMsg() *outMsg {
	return &outMsg{
		action: ocpp16.ActionHeartbeat,
		build:  func() (ocpp16.Request, bool) { return &ocpp16.HeartbeatRequest{}, true },
	}
}

func (ch *Charger) queuedLocked(action string) bool {
	for _, m := range ch.queue {
		if m.action == action {
			return true
		}
	}
	return false
}

// rebootMsg is the in-order step of a Reset: the charger goes down (the
// connection closes) and boots again on the next connection.
func (ch *Charger) rebootMsg(hard bool) *outMsg {
	return &outMsg{local: func() {
		ch.mu.Lock()
		ch.booted = false
		conn := ch.conn
		ch.notifyLocked()
		ch.mu.Unlock()
		ch.log.Info("sim: rebooting", "hard", hard)
		if conn == nil {
			return
		}
		if hard {
			conn.CloseNow()
		} else {
			_ = conn.Close()
		}
	}}
}
