package csms

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// watch closes connections that have been silent for longer than their
// organization's heartbeat timeout (the charger is gone even if the TCP
// connection has not noticed), writes chargers' last-seen times in one
// transaction now and then rather than once per message, and marks offline
// the chargers that another (crashed) process left online.
func (s *Service) watch(ctx context.Context) {
	tick := time.NewTicker(s.opt.WatchInterval)
	defer tick.Stop()
	lastFlush := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		s.mu.RLock()
		var silent, all []*station
		for _, sta := range s.byIdentity {
			all = append(all, sta)
			if now.Sub(time.Unix(0, sta.lastSeen.Load())) > sta.timeout {
				silent = append(silent, sta)
			}
		}
		s.mu.RUnlock()
		for _, sta := range silent {
			s.log.Info("csms: charger silent past its heartbeat timeout; closing", "identity", sta.st.Identity, "timeout", sta.timeout)
			sta.conn.CloseNow()
		}
		if now.Sub(lastFlush) >= 15*time.Second {
			lastFlush = now
			if err := s.flushLastSeen(ctx, all); err != nil && ctx.Err() == nil {
				s.log.Warn("csms: flush last seen", "err", err)
			}
			if err := s.sweepOrphans(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("csms: sweep orphaned online chargers", "err", err)
			}
		}
	}
}

// flushLastSeen writes the last-seen times that moved since the last
// flush, in chunks that go through the write batcher like any message: a
// fleet of ten thousand chargers is ten thousand updates, which in one
// transaction would hold up every charger's message behind it.
func (s *Service) flushLastSeen(ctx context.Context, all []*station) error {
	const chunk = 250
	type seen struct {
		sta *station
		at  int64
	}
	var due []seen
	for _, sta := range all {
		if at := sta.lastSeen.Load(); at != sta.flushed.Load() {
			due = append(due, seen{sta, at})
		}
	}
	for len(due) > 0 {
		part := due[:min(chunk, len(due))]
		due = due[len(part):]
		err := s.batch.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
			for _, d := range part {
				if _, err := tx.ExecContext(ctx, `UPDATE chargestations SET last_seen_at = $1 WHERE id = $2`,
					store.UTC(time.Unix(0, d.at)), d.sta.st.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range part {
			d.sta.flushed.Store(d.at)
		}
	}
	return nil
}

// sweepOrphans marks offline the chargers recorded online whose last-seen
// time is older than their heartbeat timeout and that are not connected
// here: their process died before it could record the disconnection.
func (s *Service) sweepOrphans(ctx context.Context) error {
	rows, err := s.db.Q().QueryContext(ctx, `SELECT id, org_id, test_mode, last_seen_at FROM chargestations WHERE online = $1`, true)
	if err != nil {
		return err
	}
	type cand struct {
		id   string
		p    org.Principal
		seen time.Time
	}
	var cands []cand
	for rows.Next() {
		var c cand
		var seen *time.Time
		if err := rows.Scan(&c.id, &c.p.OrgID, &c.p.TestMode, &seen); err != nil {
			rows.Close()
			return err
		}
		if seen != nil {
			c.seen = *seen
		}
		cands = append(cands, c)
	}
	rows.Close()
	timeouts := map[string]time.Duration{}
	for _, c := range cands {
		if s.Connected(c.id) {
			continue
		}
		to, ok := timeouts[c.p.OrgID]
		if !ok {
			o, err := org.Get(ctx, s.db.Q(), c.p.OrgID)
			if err != nil {
				return err
			}
			to = time.Duration(o.Configurations.HeartbeatTimeout) * time.Second
			timeouts[c.p.OrgID] = to
		}
		if time.Since(c.seen) <= to {
			continue
		}
		st, err := network.GetStation(ctx, s.db.Q(), c.p, c.id)
		if err != nil {
			return err
		}
		if err := s.setOnline(ctx, &station{st: st, p: c.p}, false); err != nil {
			return err
		}
	}
	return nil
}

// autoRegister adds a charger with an unknown identity to the organization
// that allows auto-registration (test mode only: a live charger must be
// registered by an operator). The password it presents becomes its key
// (trust on first use), so HTTP Basic auth is still required.
func (s *Service) autoRegister(ctx context.Context, identity, user, pass string, hasAuth bool) (network.ChargeStation, error) {
	refused := apperr.Newf(apperr.NotFound, "chargestation_not_found", "unknown charge station %q", identity)
	if !hasAuth || user != identity || len(pass) < 16 || len(pass) > 40 {
		return network.ChargeStation{}, refused
	}
	orgID, err := s.autoRegistrationOrg(ctx)
	if err != nil || orgID == "" {
		return network.ChargeStation{}, refused
	}
	p := org.Principal{OrgID: orgID, TestMode: true}
	var st network.ChargeStation
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		locs, _, err := network.ListLocations(ctx, tx, p, "", 100)
		if err != nil {
			return err
		}
		locID := ""
		for _, l := range locs {
			if l.Name == autoLocation {
				locID = l.ID
			}
		}
		if locID == "" {
			l, err := network.CreateLocation(ctx, tx, p, network.LocationInput{Name: autoLocation,
				Address: network.Address{StreetAndNumber: "-", City: "-", Country: "ZZZ"}})
			if err != nil {
				return err
			}
			locID = l.ID
		}
		st, err = network.CreateStation(ctx, tx, p, network.StationInput{Location: locID, Identity: identity, Password: pass}, "")
		return err
	})
	if err != nil {
		return st, fmt.Errorf("csms: auto-register %s: %w", identity, err)
	}
	s.log.Info("csms: charger auto-registered", "identity", identity, "org", orgID)
	return network.StationByIdentity(ctx, s.db.Q(), identity)
}

const autoLocation = "Auto-registered chargers"

func (s *Service) autoRegistrationOrg(ctx context.Context) (string, error) {
	rows, err := s.db.Q().QueryContext(ctx, `SELECT id, configurations FROM organizations ORDER BY id`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var id, cfg string
		if err := rows.Scan(&id, &cfg); err != nil {
			return "", err
		}
		if strings.Contains(strings.ReplaceAll(cfg, " ", ""), `"allow_auto_registration":true`) {
			return id, nil
		}
	}
	return "", rows.Err()
}
