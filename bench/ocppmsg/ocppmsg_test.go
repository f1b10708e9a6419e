// Package ocppmsg benchmarks the central system's hot path message by
// message, without the simulator: Go's own OCPP-J client (internal/ocppj)
// sends CALLs over loopback websockets to the real server, and the same
// client drives a bare OCPP-J server (internal/ocppj with a handler that
// answers at once and stores nothing) in the same run, as the baseline.
//
//	go test -run '^$' -bench . -benchtime 20000x ./bench/ocppmsg
//
// Heartbeat: the OCPP layer (frame parsing, schema validation, dispatch)
// with no database write. MeterValues: one sample of a transaction in
// progress, committed (group commit) before its answer, and handed to the
// session's auto-stop check. Chargers (BENCH_CHARGERS, default 64) each keep
// one CALL outstanding, as OCPP-J allows; ns/op is wall time per call over
// all of them (Joule's), "baseline-ns/op" the bare server's, and
// "x-baseline" their ratio.
package ocppmsg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/apitest"
	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/ocpp16"
	"github.com/joule-ev/joule/internal/ocppj"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/store/storetest"
	"github.com/joule-ev/joule/internal/users"
)

const tag = "BENCHMSG"

func BenchmarkMessages(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, action := range []string{"Heartbeat", "MeterValues"} {
			b.Run(db+"/"+action, func(b *testing.B) {
				dsn := ""
				if db == "postgres" {
					dsn = storetest.PostgresDSN(b)
				} else {
					dsn = b.TempDir() + "/joule.db"
				}
				run(b, dsn, action)
			})
		}
	}
}

func chargers() int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_CHARGERS")); err == nil && v > 0 {
		return v
	}
	return 64
}

func run(b *testing.B, dsn, action string) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	j := apitest.StartWith(b, dsn, func(c *app.Config) { c.NoSandboxChargers, c.Logger = true, quiet })
	n := chargers()
	api := func(method, path, body string, out any) {
		b.Helper()
		req, _ := http.NewRequest(method, j.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+j.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	var rate, loc, user map[string]any
	api("PATCH", "/v1/organization", `{"configurations":{"meter_value_interval":60,"connector_start_cooldown":0}}`, nil)
	api("POST", "/v1/rates", `{"name":"bench","tariff":{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.40,"vat":10,"step_size":1}]}]}}`, &rate)
	api("POST", "/v1/locations", `{"name":"bench","address":{"streetAndNumber":"A 1","city":"B","country":"USA"},"coordinates":{"latitude":40.7,"longitude":-74}}`, &loc)
	api("POST", "/v1/users", `{"firstname":"Bench"}`, &user)
	ctx := context.Background()
	p := org.Principal{OrgID: orgID(b, j.App.DB), TestMode: true}
	if err := j.App.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := users.AddKey(ctx, tx, p, user["_id"].(string), tag, users.KeyRFID)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	conns := make([]*ocppj.Conn, n)
	txs := make([]int, n)
	for i := range conns {
		identity := fmt.Sprintf("MSG%04d", i)
		var st map[string]any
		api("POST", "/v1/chargestations", fmt.Sprintf(`{"location":%q,"identity":%q,"connectors":[{"evse_id":"US*JOU*E%s","rate":%q}]}`,
			loc["_id"], identity, identity, rate["_id"]), &st)
		conns[i] = dial(b, "ws://"+j.App.Addr()+"/ocpp/"+identity, identity, st["password"].(string))
		must(b, conns[i], ocpp16.ActionBootNotification, ocpp16.BootNotificationRequest{ChargePointVendor: "Bench", ChargePointModel: "M"}, nil)
		var start ocpp16.StartTransactionResponse
		must(b, conns[i], ocpp16.ActionStartTransaction, ocpp16.StartTransactionRequest{ConnectorId: 1, IdTag: tag, MeterStart: 0,
			Timestamp: time.Now().UTC()}, &start)
		txs[i] = start.TransactionId
	}
	b.ResetTimer()
	joule := measure(b, conns, action, txs)
	b.StopTimer()

	// The baseline: the same client and calls against a bare OCPP-J server.
	base := bareServer(b)
	bconns := make([]*ocppj.Conn, n)
	for i := range bconns {
		bconns[i] = dial(b, base+fmt.Sprintf("/B%04d", i), "", "")
	}
	bare := measure(b, bconns, action, txs)
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(joule)/float64(bare), "x-baseline")
	b.ReportMetric(float64(b.N)/joule.Seconds(), "calls/s")
	b.Logf("%s, %d chargers, N=%d: Joule %.0f calls/s (%v per call), bare OCPP-J server %.0f calls/s: %.1fx", action, n, b.N,
		float64(b.N)/joule.Seconds(), joule/time.Duration(b.N), float64(b.N)/bare.Seconds(), float64(joule)/float64(bare))
}

// measure sends b.N CALLs spread over the connections (one outstanding
// per connection) and returns the wall time.
func measure(b *testing.B, conns []*ocppj.Conn, action string, txs []int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var meter atomic.Int64
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for next.Add(1) <= int64(b.N) {
				var req any = ocpp16.HeartbeatRequest{}
				if action == ocpp16.ActionMeterValues {
					wh := float64(meter.Add(10))
					id := txs[i]
					req = ocpp16.MeterValuesRequest{ConnectorId: 1, TransactionId: &id, MeterValue: []ocpp16.MeterValue{{
						Timestamp: time.Now().UTC(), SampledValue: []ocpp16.SampledValue{{Value: strconv.FormatFloat(wh, 'f', 0, 64),
							Measurand: "Energy.Active.Import.Register", Unit: "Wh"}}}}}
				}
				if _, err := c.Call(ctx, action, req); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func dial(b *testing.B, url, user, password string) *ocppj.Conn {
	c, err := ocppj.Dial(context.Background(), url, ocppj.DialOptions{Identity: user, Username: user, Password: password,
		Options: ocppj.Options{Handler: ocppj.NewMux(), PingInterval: -1}})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Serve(context.Background()) }()
	b.Cleanup(func() { c.CloseNow() })
	return c
}

func must(b *testing.B, c *ocppj.Conn, action string, req, out any) {
	raw, err := c.Call(context.Background(), action, req)
	if err != nil {
		b.Fatalf("%s: %v", action, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatal(err)
		}
	}
}

func orgID(b *testing.B, db *store.DB) string {
	var id string
	if err := db.Q().QueryRowContext(context.Background(), `SELECT id FROM organizations ORDER BY id LIMIT 1`).Scan(&id); err != nil {
		b.Fatal(err)
	}
	return id
}

// bareServer is an OCPP-J server that answers Heartbeat and MeterValues at
// once and stores nothing; it returns its ws:// base URL.
func bareServer(b *testing.B) string {
	mux := ocppj.NewMux()
	now := time.Now().UTC()
	mux.Handle(ocpp16.ActionHeartbeat, func(context.Context, *ocppj.Conn, string, json.RawMessage) (any, error) {
		return ocpp16.HeartbeatResponse{CurrentTime: now}, nil
	})
	mux.Handle(ocpp16.ActionMeterValues, func(context.Context, *ocppj.Conn, string, json.RawMessage) (any, error) {
		return ocpp16.MeterValuesResponse{}, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ocppj.Accept(w, r, ocppj.AcceptOptions{Identity: r.URL.Path, Options: ocppj.Options{Handler: mux, PingInterval: -1}})
		if err != nil {
			return
		}
		_ = c.Serve(r.Context())
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "ws://" + l.Addr().String()
}
