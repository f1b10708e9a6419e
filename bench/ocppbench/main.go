// Command ocppbench measures Joule's OCPP central system with the project's
// own simulator, and the same simulator against a plain websocket server
// (bench/echo) in the same run, so every figure comes with its baseline.
//
// It is run by bench/ocpp.sh, which builds the binaries and raises the file
// descriptor limit:
//
//	bash bench/ocpp.sh                       # the figures of docs/performance.md
//	go run ./bench/ocppbench -joule ./joule -echo ./echo -scenarios latency
//
// Each scenario starts a fresh `joule serve` (on one SQLite file for the
// whole run, unless -db names another database) with the chargers already
// registered, runs `joule sim --json` against it as a separate process,
// samples the server's resident memory (RSS) and CPU time from /proc, and
// then does the same against `echo`. Scenarios:
//
//	idle        N chargers connect at once and stay idle: connect rate, RSS per connection
//	latency     1,000 chargers started over 2 s, each in a transaction: MeterValues every 1 s, Heartbeat every 1 s
//	throughput  10,000 chargers started over 4 s, each in a transaction: MeterValues every 1 s, Heartbeat every -hb
//
// Every MeterValues is committed to the database (group commit) before it
// is answered; Heartbeats only update the charger's last-seen time, which is
// written for all chargers at once every 15 s.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

const (
	sandboxKey = "sk_test_ocppbench_0123456789abcdef"
	password   = "ocppbench-password-0123"
	idTag      = "BENCHTAG"
)

type config struct {
	joule, echo, db, dir string
	scenarios            []string
	idle, latency, tput  int
	duration, warmup     time.Duration
	idleDuration         time.Duration
	hb                   time.Duration
	pprof                string
	simNice              int
	out                  string
}

// result is one scenario against one server.
type result struct {
	Scenario string  `json:"scenario"`
	Server   string  `json:"server"`
	Chargers int     `json:"chargers"`
	Sim      simJSON `json:"sim"`
	// RSSBeforeKB is the server's RSS before the chargers connect;
	// RSSKB its RSS at the end of the steady window.
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSKB       int64   `json:"rss_kb"`
	RSSPerConn  float64 `json:"rss_per_conn_kb"`
	// ServerCPU is the server's CPU time over the steady window, in cores.
	ServerCPU float64 `json:"server_cpu_cores"`
	// SimCPU is the simulator's CPU time over its whole run, in cores.
	SimCPU float64 `json:"sim_cpu_cores"`
	Err    string  `json:"error,omitempty"`
}

type simJSON struct {
	Chargers    int     `json:"chargers"`
	Booted      int     `json:"booted"`
	ConnectMS   float64 `json:"connect_ms"`
	ConnectPerS float64 `json:"connect_per_s"`
	Calls       int64   `json:"calls"`
	CallsPerS   float64 `json:"calls_per_s"`
	Failed      int64   `json:"failed"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	Steady      *struct {
		Calls     int64   `json:"calls"`
		ElapsedMS float64 `json:"elapsed_ms"`
		CallsPerS float64 `json:"calls_per_s"`
		Failed    int64   `json:"failed"`
		P50       float64 `json:"p50_ms"`
		P99       float64 `json:"p99_ms"`
		Max       float64 `json:"max_ms"`
	} `json:"steady"`
}

func main() {
	var c config
	var scen string
	flag.StringVar(&c.joule, "joule", "", "the joule binary (required)")
	flag.StringVar(&c.echo, "echo", "", "the bench/echo binary (required)")
	flag.StringVar(&c.db, "db", "", "database for joule serve: an SQLite path or an EMPTY PostgreSQL database URL (default: a new SQLite file)")
	flag.StringVar(&c.dir, "dir", "", "working directory (default: a new temporary one)")
	flag.StringVar(&scen, "scenarios", "idle,latency,throughput", "scenarios to run, in order")
	flag.IntVar(&c.idle, "idle-chargers", 10000, "chargers of the idle scenario")
	flag.IntVar(&c.latency, "latency-chargers", 1000, "chargers of the latency scenario")
	flag.IntVar(&c.tput, "throughput-chargers", 10000, "chargers of the throughput scenario")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "length of each loaded simulator run (connect storm and warm-up included)")
	flag.DurationVar(&c.idleDuration, "idle-duration", 200*time.Second, "length of the idle scenario: the RSS is read at its end, after the runtime's periodic collection (every 2 min) has run")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "steady-state figures start this long after the last charger booted")
	flag.DurationVar(&c.hb, "hb", time.Second, "heartbeat period of the throughput scenario's chargers")
	flag.StringVar(&c.pprof, "pprof", "", "pass --pprof-addr to joule serve (e.g. 127.0.0.1:16060) to profile it during the run")
	flag.StringVar(&c.out, "out", "", "also write the results as JSON to this file")
	flag.IntVar(&c.simNice, "sim-nice", 0, "run the simulator at this nice value (e.g. 10), below the server")
	servers := flag.String("servers", "joule,echo", "servers to run each scenario against")
	flag.Parse()
	if c.joule == "" || c.echo == "" {
		fmt.Fprintln(os.Stderr, "ocppbench: -joule and -echo are required (bench/ocpp.sh builds them)")
		os.Exit(2)
	}
	c.scenarios = strings.Split(scen, ",")
	if c.dir == "" {
		d, err := os.MkdirTemp("", "ocppbench")
		check(err)
		defer os.RemoveAll(d)
		c.dir = d
	}
	check(os.MkdirAll(c.dir, 0o755))
	if c.db == "" {
		c.db = filepath.Join(c.dir, "joule.db")
	}
	machine()
	var results []result
	for _, s := range c.scenarios {
		n, sim := c.scenario(s)
		if n == 0 {
			fmt.Fprintf(os.Stderr, "ocppbench: unknown scenario %q\n", s)
			os.Exit(2)
		}
		for _, server := range strings.Split(*servers, ",") {
			r := c.run(s, server, n, sim)
			results = append(results, r)
			logf("%s/%s: %s", s, server, brief(r))
		}
	}
	report(os.Stdout, c, results)
	if c.out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		check(os.WriteFile(c.out, b, 0o644))
	}
	fmt.Fprintf(os.Stderr, "load average at the end: %s\n", loadavg())
}

// scenario returns the number of chargers and the simulator flags.
func (c config) scenario(name string) (int, []string) {
	switch name {
	case "idle":
		return c.idle, []string{"--rate", "0"}
	// The loaded scenarios start their chargers spread over a few seconds
	// (as a fleet is: started at the same instant, their 1 s timers would
	// fire in lockstep and every second would begin with a burst of
	// thousands of calls).
	case "latency":
		return c.latency, []string{"--rate", strconv.Itoa(max(c.latency/2, 1)), "--transactions", "--id-tag", idTag, "--meter-interval", "1s", "--heartbeat-interval", "1s"}
	case "throughput":
		return c.tput, []string{"--rate", strconv.Itoa(max(c.tput/4, 1)), "--transactions", "--id-tag", idTag, "--meter-interval", "1s", "--heartbeat-interval", c.hb.String()}
	}
	return 0, nil
}

func (c config) run(scenario, server string, n int, simFlags []string) result {
	r := result{Scenario: scenario, Server: server, Chargers: n}
	prefix := strings.ToUpper(scenario[:1])
	addr := freeAddr()
	var srv *exec.Cmd
	var err error
	if server == "joule" {
		srv, err = c.startJoule(addr)
		if err == nil {
			err = c.prepare(addr, prefix, n)
		}
	} else {
		srv, err = startEcho(c.echo, addr)
	}
	if err != nil {
		r.Err = err.Error()
		stop(srv)
		return r
	}
	defer stop(srv)
	pid := srv.Process.Pid
	time.Sleep(time.Second) // let the server settle before measuring
	r.RSSBeforeKB = rss(pid)

	duration := c.duration
	if scenario == "idle" {
		duration = c.idleDuration
	}
	args := append([]string{"sim", "--url", "ws://" + addr + "/ocpp", "--count", strconv.Itoa(n), "--prefix", prefix, "--password", password,
		"--duration", duration.String(), "--warmup", c.warmup.String(), "--json"}, simFlags...)
	sim := exec.Command(c.joule, args...)
	if c.simNice != 0 {
		// The simulator and the server share the machine's cores; at a lower
		// priority the load generator does not preempt the server it
		// measures (the same for both servers).
		if nice, err := exec.LookPath("nice"); err == nil {
			sim = exec.Command(nice, append([]string{"-n", strconv.Itoa(c.simNice), c.joule}, args...)...)
		}
	}
	var out, errOut bytes.Buffer
	sim.Stdout, sim.Stderr = &out, &errOut
	start := time.Now()
	check(sim.Start())
	// Sample the server during the steady window: its RSS just before the
	// run ends, and its CPU time over the window.
	cpuStart, cpuAt := time.Duration(0), time.Time{}
	done := make(chan error, 1)
	go func() { done <- sim.Wait() }()
	var simErr error
	sampled := false
	for waiting := true; waiting; {
		select {
		case simErr = <-done:
			waiting = false
		case <-time.After(200 * time.Millisecond):
			el := time.Since(start)
			if cpuAt.IsZero() && el >= duration/2 {
				cpuStart, cpuAt = cpuTime(pid), time.Now()
			}
			if !sampled && el >= duration-time.Second {
				sampled = true
				r.RSSKB = rss(pid)
				if !cpuAt.IsZero() {
					r.ServerCPU = (cpuTime(pid) - cpuStart).Seconds() / time.Since(cpuAt).Seconds()
				}
			}
		}
	}
	if st := sim.ProcessState; st != nil {
		r.SimCPU = (st.UserTime() + st.SystemTime()).Seconds() / time.Since(start).Seconds()
	}
	if err := json.Unmarshal(lastLine(out.Bytes()), &r.Sim); err != nil {
		r.Err = fmt.Sprintf("sim output: %v: %s %s", err, out.String(), tail(errOut.String(), 2000))
		return r
	}
	if simErr != nil {
		r.Err = fmt.Sprintf("sim: %v: %s", simErr, tail(errOut.String(), 500))
	}
	if r.RSSKB > 0 && n > 0 {
		r.RSSPerConn = float64(r.RSSKB-r.RSSBeforeKB) / float64(n)
	}
	if server == "joule" {
		c.drain(addr)
	}
	return r
}

func (c config) startJoule(addr string) (*exec.Cmd, error) {
	args := []string{"serve", "--database-url", c.db, "--addr", addr, "--sandbox-key", sandboxKey, "--no-sandbox-chargers", "--log-level", "error"}
	if c.pprof != "" {
		args = append(args, "--pprof-addr", c.pprof)
	}
	cmd := exec.Command(c.joule, args...)
	logFile, err := os.OpenFile(filepath.Join(c.dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, waitHTTP("http://"+addr+"/readyz", 60*time.Second)
}

func startEcho(bin, addr string) (*exec.Cmd, error) {
	cmd := exec.Command(bin, "--addr", addr)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, waitHTTP("http://"+addr+"/stats", 10*time.Second)
}

// prepare configures the organization (1 s meter values, so that the
// server's ChangeConfiguration agrees with the simulator) and registers the
// scenario's chargers, one connector each with a rate, and a user whose
// RFID card is the simulator's idTag: each transaction is a driver's local
// start, recorded as a session and priced when it stops.
func (c config) prepare(addr, prefix string, n int) error {
	body := `{"configurations":{"meter_value_interval":1,"heartbeat_timeout":900,"connector_start_cooldown":0}}`
	if err := api(addr, "PATCH", "/v1/organization", body, nil); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, c.db, store.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	var orgID string
	if err := db.Q().QueryRowContext(ctx, `SELECT id FROM organizations ORDER BY id LIMIT 1`).Scan(&orgID); err != nil {
		return fmt.Errorf("find the organization: %w", err)
	}
	p := org.Principal{OrgID: orgID, TestMode: true}
	width := max(4, len(strconv.Itoa(n)))
	var have int
	_ = db.Q().QueryRowContext(ctx, `SELECT count(*) FROM chargestations WHERE identity LIKE $1`, prefix+"%").Scan(&have)
	if have >= n {
		return nil
	}
	var rate map[string]any
	if err := api(addr, "POST", "/v1/rates", `{"name":"bench","tariff":{"currency":"USD","elements":[{"price_components":[{"type":"ENERGY","price":0.40,"vat":10,"step_size":1}]}]}}`, &rate); err != nil {
		return err
	}
	rateID := rate["_id"].(string)
	var loc map[string]any
	if err := api(addr, "POST", "/v1/locations", `{"name":"bench `+prefix+`","address":{"streetAndNumber":"A 1","city":"B","country":"USA"},"coordinates":{"latitude":40.7,"longitude":-74}}`, &loc); err != nil {
		return err
	}
	locID := loc["_id"].(string)
	for lo := 1; lo <= n; lo += 1000 {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := lo; i < lo+1000 && i <= n; i++ {
				identity := fmt.Sprintf("%s%0*d", prefix, width, i)
				_, err := network.CreateStation(ctx, tx, p, network.StationInput{Location: locID, Identity: identity, Password: password,
					Connectors: []network.ConnectorInput{{ConnectorNumber: 1, EvseID: "US*JOU*E" + identity, Rate: &rateID}}}, "")
				if err != nil && !strings.Contains(err.Error(), "taken") {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("register chargers: %w", err)
		}
	}
	var k int
	_ = db.Q().QueryRowContext(ctx, `SELECT count(*) FROM charging_keys WHERE id_tag = $1`, idTag).Scan(&k)
	if k > 0 {
		return nil
	}
	var u map[string]any
	if err := api(addr, "POST", "/v1/users", `{"firstname":"Bench","lastname":"Driver"}`, &u); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *store.Tx) error {
		_, err := users.AddKey(ctx, tx, p, u["_id"].(string), idTag, users.KeyRFID)
		return err
	})
}

// drain waits (up to a minute) until the sessions the wind-down stopped
// are settled, so that one scenario's background work does not run
// during the next.
func (c config) drain(addr string) {
	ctx := context.Background()
	db, err := store.Open(ctx, c.db, store.Options{MaxConns: 1})
	if err != nil {
		return
	}
	defer db.Close()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var n int
		_ = db.Q().QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE state IN ('available','running') AND run_at <= $1`, store.Now()).Scan(&n)
		if n == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	logf("jobs still due after a minute; going on")
}

func api(addr, method, path, body string, out any) error {
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+sandboxKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func waitHTTP(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", url, within)
}

func stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

// rss is the process's resident set in KiB.
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func brief(r result) string {
	if r.Err != "" && r.Sim.Chargers == 0 {
		return "ERROR " + r.Err
	}
	s := fmt.Sprintf("booted %d/%d in %.0f ms, %.0f calls/s overall", r.Sim.Booted, r.Chargers, r.Sim.ConnectMS, r.Sim.CallsPerS)
	if st := r.Sim.Steady; st != nil {
		s += fmt.Sprintf(", steady %.0f calls/s p50 %.2f ms p99 %.2f ms", st.CallsPerS, st.P50, st.P99)
	}
	s += fmt.Sprintf(", RSS %d -> %d KiB, server %.2f cores, sim %.2f cores", r.RSSBeforeKB, r.RSSKB, r.ServerCPU, r.SimCPU)
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s
}

func report(w io.Writer, c config, rs []result) {
	by := map[string]map[string]result{}
	for _, r := range rs {
		if by[r.Scenario] == nil {
			by[r.Scenario] = map[string]result{}
		}
		by[r.Scenario][r.Server] = r
	}
	fmt.Fprintf(w, "\nOCPP: joule sim against joule serve (SQLite, every MeterValues committed before its answer) and against bench/echo, same run\n")
	fmt.Fprintf(w, "%-44s %12s %12s %10s\n", "figure", "joule", "echo", "joule/echo")
	row := func(name string, j, e float64, format string) {
		ratio := "-"
		if e != 0 {
			ratio = fmt.Sprintf("%.2f", j/e)
		}
		fmt.Fprintf(w, "%-44s %12s %12s %10s\n", name, fmt.Sprintf(format, j), fmt.Sprintf(format, e), ratio)
	}
	for _, s := range c.scenarios {
		j, e := by[s]["joule"], by[s]["echo"]
		n, _ := c.scenario(s)
		switch s {
		case "idle":
			row(fmt.Sprintf("idle: %d chargers booted", n), float64(j.Sim.Booted), float64(e.Sim.Booted), "%.0f")
			row("idle: connect rate (chargers/s, all at once)", j.Sim.ConnectPerS, e.Sim.ConnectPerS, "%.0f")
			row("idle: server RSS per connection (KiB)", j.RSSPerConn, e.RSSPerConn, "%.1f")
		default:
			label := fmt.Sprintf("%s: %d chargers", s, n)
			row(label+", booted", float64(j.Sim.Booted), float64(e.Sim.Booted), "%.0f")
			if j.Sim.Steady != nil && e.Sim.Steady != nil {
				row(s+": steady calls/s", j.Sim.Steady.CallsPerS, e.Sim.Steady.CallsPerS, "%.0f")
				row(s+": steady p50 latency (ms)", j.Sim.Steady.P50, e.Sim.Steady.P50, "%.2f")
				row(s+": steady p99 latency (ms)", j.Sim.Steady.P99, e.Sim.Steady.P99, "%.2f")
			}
			row(s+": whole run p99 incl. connect storm (ms)", j.Sim.P99, e.Sim.P99, "%.2f")
			row(s+": failed calls", float64(j.Sim.Failed), float64(e.Sim.Failed), "%.0f")
			row(s+": server CPU (cores, steady)", j.ServerCPU, e.ServerCPU, "%.2f")
			row(s+": simulator CPU (cores)", j.SimCPU, e.SimCPU, "%.2f")
			row(s+": server RSS per connection (KiB)", j.RSSPerConn, e.RSSPerConn, "%.1f")
		}
		for _, r := range []result{j, e} {
			if r.Err != "" {
				fmt.Fprintf(w, "  note: %s/%s: %s\n", s, r.Server, tail(r.Err, 300))
			}
		}
	}
}

func machine() {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	fmt.Fprintf(os.Stderr, "machine: %d CPUs (%s), %s, %s, open files %d, load average %s\n",
		runtime.NumCPU(), model, mem, runtime.Version(), rl.Cur, loadavg())
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05")+" "+format+"\n", args...)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocppbench:", err)
		os.Exit(1)
	}
}
