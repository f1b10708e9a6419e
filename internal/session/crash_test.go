package session_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/ledger"
	"github.com/joule-ev/joule/internal/sim"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
)

// TestKillNineMidSession kills `joule serve` with SIGKILL while sessions
// are charging, and again right after their stops were requested; after
// each restart the chargers reconnect and deliver what they queued, and in
// the end every session has ended, was priced once (one CDR) and charged
// once (one provider payment, one ledger transfer), and the ledger balances.
func TestKillNineMidSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server binary")
	}
	bin := filepath.Join(t.TempDir(), "joule")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/joule").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "joule.db")
			if db == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			killNine(t, bin, dsn)
		})
	}
}

type server struct {
	cmd  *exec.Cmd
	addr string
}

func startServer(t *testing.T, bin, dsn, addr, key string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--database-url", dsn, "--addr", addr, "--sandbox-key", key, "--no-sandbox-chargers",
		"--job-poll", "50ms", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	j := &apitest.Joule{URL: "http://" + addr, Key: key}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if r := j.Do(t, "", "GET", "/readyz", nil); r.Status == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &server{cmd: cmd, addr: addr}
}

func (s *server) kill9() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = s.cmd.Process.Wait()
}

func killNine(t *testing.T, bin, dsn string) {
	const n = 6
	key := "sk_test_crashtest_0123456789abcdef"
	addr := apitest.FreeAddr(t)
	srv := startServer(t, bin, dsn, addr, key)
	defer func() { srv.kill9() }()
	j := &apitest.Joule{URL: "http://" + addr, Key: key}
	j.Must(t, 200, key, "PATCH", "/v1/organization", map[string]any{"configurations": map[string]any{"meter_value_interval": 1,
		"waiting_to_start_timeout": 60, "stop_timeout": 60, "heartbeat_timeout": 30}})
	var rate map[string]any
	var tj map[string]any
	mustJSON(t, energyRate, &tj)
	rate = j.Must(t, 201, key, "POST", "/v1/rates", map[string]any{"name": "r", "tariff": tj})
	loc := j.Must(t, 201, key, "POST", "/v1/locations", map[string]any{"name": "Crash site", "address": map[string]any{"streetAndNumber": "A 1", "city": "B", "country": "USA"},
		"coordinates": map[string]any{"latitude": 40.7, "longitude": -74}})
	fleet := sim.New(sim.Config{URL: "ws://" + addr + "/ocpp", ReconnectDelay: 200 * time.Millisecond, MaxReconnectDelay: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer fleet.Stop()
	type slot struct {
		conn, user string
		ch         *sim.Charger
	}
	slots := make([]slot, n)
	for i := range slots {
		id := fmt.Sprintf("CRASH-%d", i)
		st := j.Must(t, 201, key, "POST", "/v1/chargestations", map[string]any{"location": loc["_id"], "identity": id,
			"connectors": []map[string]any{{"evse_id": "US*JOU*E" + id, "rate": rate["_id"]}}})
		u := j.Must(t, 201, key, "POST", "/v1/users", map[string]any{"firstname": id})
		ch, err := fleet.Add(sim.ChargerConfig{Identity: id, Password: st["password"].(string), MeterInterval: time.Second, PowerW: 11000})
		if err != nil {
			t.Fatal(err)
		}
		slots[i] = slot{conn: st["connectors"].([]any)[0].(map[string]any)["_id"].(string), user: u["_id"].(string), ch: ch}
	}
	if err := fleet.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := fleet.WaitBooted(wctx); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i, s := range slots {
		ids[i] = j.Must(t, 201, key, "POST", "/v1/sessions", map[string]any{"user": s.user, "connector": s.conn, "type": "postpaid"})["_id"].(string)
	}
	for _, id := range ids {
		waitStatus(t, j, id, "started", 20*time.Second)
	}
	time.Sleep(1500 * time.Millisecond)

	// First crash: mid-charge. Meter values queue in the chargers meanwhile.
	srv.kill9()
	time.Sleep(1500 * time.Millisecond)
	srv = startServer(t, bin, dsn, addr, key)
	time.Sleep(1500 * time.Millisecond)

	// Stop half through the API; the other half unplug at the charger.
	for i, id := range ids {
		if i%2 == 0 {
			j.Must(t, 200, key, "POST", "/v1/sessions/"+id+"/stop", nil)
		} else {
			_ = slots[i].ch.Unplug(1)
		}
	}
	// Second crash: while stops, pricing and charges are in flight.
	time.Sleep(30 * time.Millisecond)
	srv.kill9()
	time.Sleep(time.Second)
	srv = startServer(t, bin, dsn, addr, key)

	for _, id := range ids {
		x := waitStatus(t, j, id, "completed", 60*time.Second)
		if x["balance_status"] != "PAID" {
			t.Errorf("session %s: balance %v, payment %v", id, x["balance_status"], x["payment"])
		}
	}
	srv.kill9()

	db, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := db.Q()
	for _, id := range ids {
		var cdrs, payments, transfers int
		var amount, paid, booked int64
		_ = q.QueryRowContext(ctx, `SELECT count(*) FROM cdrs WHERE session_id = $1`, id).Scan(&cdrs)
		_ = q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(captured),0) FROM sandbox_payments WHERE reference = $1`, id).Scan(&payments, &paid)
		_ = q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(amount),0) FROM ledger_transfers WHERE reference_id = $1`, id).Scan(&transfers, &booked)
		_ = q.QueryRowContext(ctx, `SELECT captured_amount FROM session_payments WHERE session_id = $1`, id).Scan(&amount)
		if cdrs != 1 || payments != 1 || transfers != 1 || paid != amount || booked != amount || amount <= 0 {
			t.Errorf("session %s: %d CDRs, %d provider payments (captured %d), %d ledger transfers (%d), charged %d", id, cdrs, payments, paid, transfers, booked, amount)
		}
	}
	rep, err := ledger.Check(ctx, q)
	if err != nil || !rep.OK() {
		t.Fatalf("ledger: %+v %v", rep, err)
	}
}
