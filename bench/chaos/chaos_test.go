//go:build chaos

// Package chaos is Joule's chaos test, run by hand (not in CI):
//
//	go test -tags chaos -run TestChaos -v -timeout 30m ./bench/chaos
//
// For CHAOS_DURATION (default 90s) per database (SQLite, then PostgreSQL
// when it listens on 127.0.0.1:5432), simulated chargers run wallet,
// payment-link and postpaid sessions against the `joule serve` binary
// while:
//   - the server is killed with SIGKILL and restarted every 5 to 12 s;
//   - chargers drop their sockets at random (Disconnect, or GoOffline for
//     1 to 5 s, queueing their transaction messages meanwhile);
//   - the sandbox payment provider fails CHAOS_FAULT_RATE (default 0.2) of
//     its calls (--test-payments-fault-rate), before or after acting;
//   - some completed sessions are refunded in part.
//
// Then the chaos stops, the chargers unplug whatever still charges, and
// once everything settled the test checks that: the ledger balances
// (ledger.Check) and no wallet is below zero; nothing was captured twice
// (at most one provider payment and one money transfer per session, and
// the provider's captured amount equals the session's); every
// authorization was captured or released (no open hold, no authorized
// provider payment); every session reached a final state (completed,
// failed, canceled, refunded); the provider's records reconcile with the
// ledger; and the webhook receiver registered for "*" got every event of
// the run at least once, each with a valid Standard Webhooks signature.
package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

const (
	key      = "sk_test_chaos_0123456789abcdef01"
	chargers = 8
	tariff   = `{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.50,"vat":10,"step_size":1},{"type":"TIME","price":2.00,"vat":10,"step_size":60}]}]}`
)

func TestChaos(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "joule")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/joule").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	duration := envDuration("CHAOS_DURATION", 90*time.Second)
	rate := 0.2
	if v, err := strconv.ParseFloat(os.Getenv("CHAOS_FAULT_RATE"), 64); err == nil {
		rate = v
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "joule.db")
			if db == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			seed := uint64(time.Now().UnixNano())
			if v, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
				seed = v
			}
			t.Logf("seed %d (CHAOS_SEED), chaos for %v, provider fault rate %.2f", seed, duration, rate)
			(&run{t: t, bin: bin, dsn: dsn, rate: rate, rng: mrand.New(mrand.NewPCG(seed, 1))}).chaos(duration)
		})
	}
}

type run struct {
	t    *testing.T
	bin  string
	dsn  string
	rate float64
	rng  *mrand.Rand
	mu   sync.Mutex // guards rng and srv

	addr string
	srv  *exec.Cmd
	http *http.Client

	kills, disconnects, offlines, refunds, requests atomic.Int64
}

// rand returns a random int in [0, n) (safe for concurrent use).
func (r *run) rand(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(n)
}

func (r *run) chaos(duration time.Duration) {
	t := r.t
	r.addr = apitest.FreeAddr(t)
	r.http = &http.Client{Timeout: 10 * time.Second}
	recv := newReceiver()
	defer recv.Close()
	r.start()
	defer r.kill()

	// The receiver first, so that it gets every event of the run.
	var ep map[string]any
	r.must("POST", "/v1/webhooks", map[string]any{"url": recv.URL, "enabled_events": []string{"*"}}, &ep)
	recv.setSecret(ep["secret"].(string))
	since, err := time.Parse(time.RFC3339Nano, ep["createdAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	r.must("PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"connector_start_cooldown": 0, "session": 100,
		"minimum_amount_to_start_session": 1500, "meter_value_interval": 1, "waiting_to_start_timeout": 20, "stop_timeout": 15,
		"heartbeat_timeout": 30}}, nil)
	var tj, rate, loc map[string]any
	_ = json.Unmarshal([]byte(tariff), &tj)
	r.must("POST", "/v1/rates", map[string]any{"name": "chaos", "tariff": tj}, &rate)
	r.must("POST", "/v1/locations", map[string]any{"name": "Chaos", "address": map[string]any{"streetAndNumber": "A 1", "city": "B", "country": "USA"},
		"coordinates": map[string]any{"latitude": 40.7, "longitude": -74}}, &loc)
	fleet := sim.New(sim.Config{URL: "ws://" + r.addr + "/ocpp", ReconnectDelay: 200 * time.Millisecond, MaxReconnectDelay: time.Second,
		Logger: quietLogger()})
	type rig struct {
		ch              *sim.Charger
		connector, user string
	}
	rigs := make([]rig, chargers)
	for i := range rigs {
		id := fmt.Sprintf("CHAOS-%d", i)
		var st, u, w map[string]any
		r.must("POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": id, "capabilities": []string{"REMOTE_START_STOP_CAPABLE"},
			"connectors": []map[string]any{{"evse_id": "US*JOU*E" + id, "rate": rate["_id"], "max_power": 22000}}}, &st)
		r.must("POST", "/v1/users", map[string]any{"firstname": id, "email": strings.ToLower(id) + "@example.com"}, &u)
		r.must("GET", "/v1/users/"+u["_id"].(string)+"/wallet", nil, &w)
		wid := w["wallet"].(map[string]any)["_id"].(string)
		r.must("POST", "/v1/wallets/"+wid+"/adjustments", map[string]any{"amount": 500 + r.rand(4500), "reason": "chaos test funds"}, nil)
		ch, err := fleet.Add(sim.ChargerConfig{Identity: id, Password: st["password"].(string), MeterInterval: time.Second, PowerW: 22000})
		if err != nil {
			t.Fatal(err)
		}
		rigs[i] = rig{ch: ch, connector: st["connectors"].([]any)[0].(map[string]any)["_id"].(string), user: u["_id"].(string)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer fleet.Stop()
	if err := fleet.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	if err := fleet.WaitBooted(wctx); err != nil {
		t.Fatal(err)
	}
	wcancel()

	// Chaos.
	chaosCtx, stopChaos := context.WithTimeout(ctx, duration)
	defer stopChaos()
	var wg sync.WaitGroup
	var sessMu sync.Mutex
	var sessions []string
	for _, rg := range rigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chaosCtx.Err() == nil {
				id := r.session(chaosCtx, rg.user, rg.connector, rg.ch)
				if id != "" {
					sessMu.Lock()
					sessions = append(sessions, id)
					sessMu.Unlock()
				}
			}
		}()
	}
	wg.Add(3)
	go func() { defer wg.Done(); r.killer(chaosCtx) }()
	go func() {
		defer wg.Done()
		for sleep(chaosCtx, time.Duration(500+r.rand(1500))*time.Millisecond) {
			ch := rigs[r.rand(len(rigs))].ch
			if r.rand(2) == 0 {
				ch.Disconnect()
				r.disconnects.Add(1)
			} else {
				ch.GoOffline(time.Duration(1+r.rand(5)) * time.Second)
				r.offlines.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for sleep(chaosCtx, 3*time.Second) {
			sessMu.Lock()
			ids := append([]string(nil), sessions...)
			sessMu.Unlock()
			if len(ids) > 0 {
				r.refund(ids[r.rand(len(ids))])
			}
		}
	}()
	wg.Wait()
	if r.srv == nil {
		r.start()
	}
	t.Logf("chaos over: %d sessions started through the API, %d kills, %d disconnects, %d offline periods, %d refunds",
		len(sessions), r.kills.Load(), r.disconnects.Load(), r.offlines.Load(), r.refunds.Load())

	// Settle: whatever still charges is unplugged, until every session is final.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		for _, rg := range rigs {
			if s := rg.ch.Snapshot(); s.Connector(1).InTransaction {
				_ = rg.ch.Unplug(1)
			}
		}
		open := r.openSessions()
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions not final after the chaos: %v", open)
		}
		for id, status := range open {
			if status == "started" || status == "paused" || status == "stop_failed" {
				_, _ = r.do("POST", "/v1/sessions/"+id+"/stop", nil, nil)
			}
		}
		time.Sleep(2 * time.Second)
	}
	// The chargers go (the server records them offline and tells the
	// receiver), then authorizations are released and webhooks delivered.
	fleet.Stop()
	db, err := store.Open(context.Background(), r.dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := db.Q()
	bg := context.Background()
	for {
		var authorized, pending int
		_ = q.QueryRowContext(bg, `SELECT count(*) FROM sandbox_payments WHERE status = 'authorized'`).Scan(&authorized)
		_ = q.QueryRowContext(bg, `SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&pending)
		if authorized == 0 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the chaos: %d provider authorizations neither captured nor released, %d webhook deliveries pending", authorized, pending)
		}
		time.Sleep(time.Second)
	}
	// Stop the server cleanly, then check everything from the database.
	until := time.Now().UTC()
	r.stop()
	r.check(db, since, until, recv)
}

// session runs one random session on the rig; it returns its id, or ""
// when none was created.
func (r *run) session(ctx context.Context, user, connector string, ch *sim.Charger) string {
	// A charger still charging (its last session's stop was lost to the
	// chaos: stop_failed) would refuse the next start: the driver unplugs.
	if ch.Snapshot().Connector(1).InTransaction {
		_ = ch.Unplug(1)
		sleep(ctx, time.Second)
	}
	typ := []string{"wallet", "payment_link", "postpaid"}[r.rand(3)]
	body := map[string]any{"user": user, "connector": connector, "type": typ}
	if typ == "payment_link" {
		body["target"] = map[string]any{"payment_expiry_time": 5 + r.rand(5)}
	}
	var x map[string]any
	status, err := r.retry(ctx, "POST", "/v1/sessions", body, &x, "Idempotency-Key", randomKey())
	if err != nil || status != 201 {
		sleep(ctx, time.Second) // refused (e.g. a wallet below the minimum) or the server stayed down
		return ""
	}
	id := x["_id"].(string)
	if typ == "payment_link" && !r.payLink(ctx, id) {
		r.waitStatus(ctx, id, 20*time.Second, "failed", "canceled", "started")
		return id
	}
	if !r.waitStatus(ctx, id, 30*time.Second, "started") {
		return id
	}
	sleep(ctx, time.Duration(1000+r.rand(3000))*time.Millisecond)
	if r.rand(2) == 0 {
		_, _ = r.retry(ctx, "POST", "/v1/sessions/"+id+"/stop", nil, nil)
	} else {
		_ = ch.Unplug(1)
	}
	r.waitStatus(ctx, id, 30*time.Second, "completed", "stop_failed", "failed", "canceled")
	return id
}

// payLink pays a payment link's hosted page as a driver's browser would
// (the form's double-submit token is the cookie's), with a random outcome:
// left unpaid, declined, or paid with the test Visa. It reports whether
// the card was authorized.
func (r *run) payLink(ctx context.Context, id string) bool {
	var u string
	for i := 0; i < 50 && u == "" && ctx.Err() == nil; i++ {
		var x map[string]any
		if st, err := r.do("GET", "/v1/sessions/"+id, nil, &x); err == nil && st == 200 {
			u, _ = x["payment"].(map[string]any)["url"].(string)
		}
		if u == "" {
			sleep(ctx, 200*time.Millisecond)
		}
	}
	if u == "" {
		return false // the checkout is still being created through faults; it expires
	}
	card := "4242424242424242"
	switch r.rand(5) {
	case 0:
		return false // never paid: the link expires
	case 1:
		card = "4000000000000002" // declined
	}
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	tok := randomKey()
	form := url.Values{"csrf": {tok}, "number": {card}, "expiry": {"12/40"}, "cvc": {"123"}, "name": {"Chaos Driver"}}
	for i := 0; i < 10 && ctx.Err() == nil; i++ {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+r.addr+pu.Path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "joule_pay_csrf", Value: tok})
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusSeeOther {
				return card == "4242424242424242" && !strings.HasSuffix(resp.Header.Get("Location"), "/declined")
			}
		}
		sleep(ctx, 500*time.Millisecond)
	}
	return false
}

func (r *run) refund(id string) {
	var x map[string]any
	if st, err := r.do("GET", "/v1/sessions/"+id, nil, &x); err != nil || st != 200 || x["status"] != "completed" {
		return
	}
	pay, _ := x["payment"].(map[string]any)
	captured, _ := pay["captured_amount"].(float64)
	refunded, _ := pay["refunded_amount"].(float64)
	if captured-refunded < 2 {
		return
	}
	st, err := r.do("POST", "/v1/sessions/"+id+"/refund", map[string]any{"amount": int64(captured-refunded) / 2, "reason": "chaos"}, nil,
		"Idempotency-Key", randomKey())
	if err == nil && st < 300 {
		r.refunds.Add(1)
	}
}

// killer kills the server with SIGKILL every 5 to 12 s and restarts it
// after 0.2 to 1.5 s.
func (r *run) killer(ctx context.Context) {
	for sleep(ctx, time.Duration(5000+r.rand(7000))*time.Millisecond) {
		r.kill()
		r.kills.Add(1)
		sleep(context.Background(), time.Duration(200+r.rand(1300))*time.Millisecond)
		r.start()
	}
}

func (r *run) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "serve", "--database-url", r.dsn, "--addr", r.addr, "--sandbox-key", key, "--no-sandbox-chargers",
		"--job-poll", "100ms", "--log-level", "error", "--test-payments-fault-rate", strconv.FormatFloat(r.rate, 'f', -1, 64))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := r.do("GET", "/readyz", nil, nil); err == nil && st == 200 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the server did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.mu.Lock()
	r.srv = cmd
	r.mu.Unlock()
}

// kill ends the server as a crash would; stop ends it cleanly.
func (r *run) kill() { r.end(syscall.SIGKILL) }
func (r *run) stop() { r.end(syscall.SIGTERM) }

func (r *run) end(sig syscall.Signal) {
	r.mu.Lock()
	cmd := r.srv
	r.srv = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
		_, _ = cmd.Process.Wait()
	}
}

// openSessions returns the sessions not in a final state.
func (r *run) openSessions() map[string]string {
	db, err := store.Open(context.Background(), r.dsn, store.Options{MaxConns: 1})
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Q().QueryContext(context.Background(), `SELECT id, status FROM sessions WHERE status NOT IN ('completed','failed','canceled','refunded')`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			r.t.Fatal(err)
		}
		out[id] = st
	}
	return out
}

func (r *run) check(db *store.DB, since, until time.Time, recv *receiver) {
	t := r.t
	ctx := context.Background()
	q := db.Q()
	rep, err := ledger.Check(ctx, q)
	if err != nil || !rep.OK() || rep.OpenHolds != 0 {
		t.Errorf("ledger: %+v %v", rep, err)
	}
	var below int
	_ = q.QueryRowContext(ctx, `SELECT count(*) FROM ledger_accounts WHERE kind = 'wallet'
		AND (credits_posted - debits_posted < 0 OR credits_posted - debits_posted - debits_pending < 0)`).Scan(&below)
	if below != 0 {
		t.Errorf("%d wallets below zero", below)
	}
	statuses := map[string]int{}
	types := map[string]int{}
	rows, err := q.QueryContext(ctx, `SELECT s.id, s.type, s.status, p.captured_amount, p.authorized_amount FROM sessions s JOIN session_payments p ON p.session_id = s.id`)
	if err != nil {
		t.Fatal(err)
	}
	type sess struct {
		id, typ, status  string
		captured, authzd int64
	}
	var all []sess
	for rows.Next() {
		var s sess
		if err := rows.Scan(&s.id, &s.typ, &s.status, &s.captured, &s.authzd); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	rows.Close()
	for _, s := range all {
		statuses[s.status]++
		types[s.typ]++
		switch s.status {
		case "completed", "failed", "canceled", "refunded":
		default:
			t.Errorf("session %s (%s) ended %s, not final", s.id, s.typ, s.status)
		}
		var providerPayments, transfers, cdrs int
		var providerCaptured int64
		_ = q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(captured),0) FROM sandbox_payments WHERE reference = $1`, s.id).Scan(&providerPayments, &providerCaptured)
		_ = q.QueryRowContext(ctx, `SELECT count(*) FROM ledger_transfers WHERE reference_id = $1 AND kind = $2 AND phase IN ('single','post')`,
			s.id, string(ledger.TransferSessionCharge)).Scan(&transfers)
		_ = q.QueryRowContext(ctx, `SELECT count(*) FROM cdrs WHERE session_id = $1`, s.id).Scan(&cdrs)
		if providerPayments > 1 || transfers > 1 || cdrs > 1 {
			t.Errorf("session %s (%s): %d provider payments, %d charge transfers, %d CDRs", s.id, s.typ, providerPayments, transfers, cdrs)
		}
		if s.typ != "wallet" && providerCaptured != s.captured {
			t.Errorf("session %s (%s): the provider captured %d, the session says %d", s.id, s.typ, providerCaptured, s.captured)
		}
		if s.typ == "payment_link" && s.captured > s.authzd {
			t.Errorf("session %s: captured %d over the authorization %d", s.id, s.captured, s.authzd)
		}
	}
	var org string
	_ = q.QueryRowContext(ctx, `SELECT id FROM organizations ORDER BY id LIMIT 1`).Scan(&org)
	rec, err := payments.Reconcile(ctx, q, org, true, "USD")
	if err != nil || !rec.Balanced() {
		t.Errorf("provider records do not reconcile with the ledger: %+v %v", rec, err)
	}
	// Webhooks: every event of the run, at least once, signed.
	rows, err = q.QueryContext(ctx, `SELECT id, type FROM events WHERE test_mode = $1 AND created_at >= $2 AND created_at < $3`, true, since, until)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var id, typ string
		if err := rows.Scan(&id, &typ); err != nil {
			t.Fatal(err)
		}
		want[id] = typ
	}
	rows.Close()
	got, dup, bad := recv.summary()
	var missing []string
	for id, typ := range want {
		if got[id] == 0 {
			missing = append(missing, id+" "+typ)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d events never reached the webhook receiver: %v", len(missing), len(want), missing[:min(len(missing), 20)])
	}
	if bad > 0 {
		t.Errorf("%d webhook requests with a bad signature", bad)
	}
	reasons := map[string]int{}
	rows, err = q.QueryContext(ctx, `SELECT failure_reason, count(*) FROM sessions WHERE status IN ('failed','canceled') GROUP BY failure_reason`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var reason string
		var n int
		if err := rows.Scan(&reason, &n); err != nil {
			t.Fatal(err)
		}
		reasons[reason] = n
	}
	rows.Close()
	t.Logf("failed and canceled sessions by reason: %v", reasons)
	var attempts, crashed int
	_ = q.QueryRowContext(ctx, `SELECT count(*) FROM webhook_attempts`).Scan(&attempts)
	_ = q.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE attempts > 1`).Scan(&crashed)
	t.Logf("%d sessions by type %v, by status %v; ledger: %d accounts, %d transfers; %d events, all received (%d requests, %d duplicates, "+
		"%d bad signatures); %d webhook attempts logged; %d jobs ran more than once; %d kills", len(all), types, statuses, rep.Accounts,
		rep.Transfers, len(want), recv.requests(), dup, bad, attempts, crashed, r.kills.Load())
}

// waitStatus polls the session until it has one of the statuses; the
// server may be down meanwhile.
func (r *run) waitStatus(ctx context.Context, id string, within time.Duration, statuses ...string) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var x map[string]any
		if st, err := r.do("GET", "/v1/sessions/"+id, nil, &x); err == nil && st == 200 {
			for _, s := range statuses {
				if x["status"] == s {
					return true
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return false
}

// retry sends the request until the server answers (it may be down), for
// as long as ctx lasts.
func (r *run) retry(ctx context.Context, method, path string, body, out any, headers ...string) (int, error) {
	for {
		st, err := r.do(method, path, body, out, headers...)
		if err == nil && st < 500 {
			return st, nil
		}
		if !sleep(ctx, 300*time.Millisecond) {
			return st, err
		}
	}
}

func (r *run) must(method, path string, body, out any) {
	r.t.Helper()
	st, err := r.do(method, path, body, out)
	if err != nil || st >= 300 {
		r.t.Fatalf("%s %s: %d %v", method, path, st, err)
	}
}

func (r *run) do(method, path string, body, out any, headers ...string) (int, error) {
	r.requests.Add(1)
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, "http://"+r.addr+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// receiver is the webhook receiver: it verifies each request's signature
// and counts the event ids it got.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	wh    *standardwebhooks.Webhook
	ids   map[string]int
	bad   int
	total int
}

func newReceiver() *receiver {
	rc := &receiver{ids: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.total++
		if rc.wh == nil || rc.wh.Verify(body, req.Header) != nil {
			rc.bad++
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var env struct {
			ID string `json:"_id"`
		}
		_ = json.Unmarshal(body, &env)
		if env.ID == "" || env.ID != req.Header.Get("webhook-id") {
			rc.bad++
		}
		rc.ids[env.ID]++
	}))
	return rc
}

func (rc *receiver) setSecret(secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		panic(err)
	}
	rc.mu.Lock()
	rc.wh = wh
	rc.mu.Unlock()
}

func (rc *receiver) summary() (ids map[string]int, duplicates, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ids = make(map[string]int, len(rc.ids))
	for k, v := range rc.ids {
		ids[k] = v
		duplicates += v - 1
	}
	return ids, duplicates, rc.bad
}

func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func randomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}
