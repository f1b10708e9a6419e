package ocppj

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testServer runs an OCPP-J server on loopback; every accepted connection
// is served until the test ends and is also sent on conns.
type testServer struct {
	url   string
	conns chan *Conn
	errs  chan error
}

func startServer(t testing.TB, opts AcceptOptions) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{conns: make(chan *Conn, 16), errs: make(chan error, 16)}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := opts
		o.Identity = strings.TrimPrefix(r.URL.Path, "/ocpp/")
		if o.Logger == nil {
			o.Logger = quietLogger()
		}
		c, err := Accept(w, r, o)
		if err != nil {
			ts.errs <- err
			return
		}
		wg.Add(1)
		defer wg.Done()
		select {
		case ts.conns <- c:
		default:
		}
		_ = c.Serve(ctx)
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	ts.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp/CP1"
	return ts
}

// dial connects a client and serves it until the test ends.
func dial(t testing.TB, url string, opts DialOptions) *Conn {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	c, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(context.Background())
	}()
	t.Cleanup(func() {
		// Not Close: the raw test peers never answer a close handshake.
		c.CloseNow()
		<-done
	})
	return c
}

func (ts *testServer) conn(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-ts.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no server connection")
		return nil
	}
}

func echoMux() *Mux {
	m := NewMux()
	m.Handle("Echo", func(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error) {
		return json.RawMessage(payload), nil
	})
	return m
}

func TestCallBothDirections(t *testing.T) {
	ts := startServer(t, AcceptOptions{Options: Options{Handler: echoMux()}})
	client := dial(t, ts.url, DialOptions{Options: Options{Handler: echoMux()}})
	server := ts.conn(t)
	if server.Identity() != "CP1" || server.Subprotocol() != "ocpp1.6" {
		t.Fatalf("identity %q subprotocol %q", server.Identity(), server.Subprotocol())
	}
	ctx := context.Background()
	got, err := client.Call(ctx, "Echo", map[string]int{"n": 1})
	if err != nil || string(got) != `{"n":1}` {
		t.Fatalf("client call: %s %v", got, err)
	}
	got, err = server.Call(ctx, "Echo", json.RawMessage(`{"from":"server"}`))
	if err != nil || string(got) != `{"from":"server"}` {
		t.Fatalf("server call: %s %v", got, err)
	}
}

func TestHandlerErrorsBecomeCallErrors(t *testing.T) {
	m := NewMux()
	m.Handle("Typed", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		return nil, &Error{Code: PropertyConstraintViolation, Description: "bad idTag", Details: map[string]string{"field": "idTag"}}
	})
	m.Handle("Wrapped", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		return nil, fmt.Errorf("context: %w", Errorf(SecurityError, "nope"))
	})
	m.Handle("Plain", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		return nil, errors.New("database on fire")
	})
	m.Handle("Panics", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		panic("boom")
	})
	m.Handle("BadResult", func(context.Context, *Conn, string, json.RawMessage) (any, error) {
		return []int{1}, nil
	})
	ts := startServer(t, AcceptOptions{Options: Options{Handler: m}})
	client := dial(t, ts.url, DialOptions{})
	for _, tt := range []struct {
		action string
		code   ErrorCode
	}{
		{"Typed", PropertyConstraintViolation},
		{"Wrapped", SecurityError},
		{"Plain", InternalError},
		{"Panics", InternalError},
		{"BadResult", InternalError},
		{"Unknown", NotImplemented},
	} {
		_, err := client.Call(context.Background(), tt.action, nil)
		e, ok := AsError(err)
		if !ok || e.Code != tt.code {
			t.Errorf("%s: got %v, want CALLERROR %s", tt.action, err, tt.code)
		}
		if tt.action == "Plain" && strings.Contains(e.Description, "fire") {
			t.Errorf("internal error leaked to the peer: %q", e.Description)
		}
		if tt.action == "Typed" && string(e.Details.(json.RawMessage)) != `{"field":"idTag"}` {
			t.Errorf("details %s", e.Details)
		}
	}
	// The connection survived the panic.
	if _, err := client.Call(context.Background(), "Typed", nil); err == nil {
		t.Fatal("connection unusable after a handler panic")
	}
}

func TestTimeoutThenLateAnswerIsDropped(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	m := NewMux()
	m.Handle("Slow", func(ctx context.Context, c *Conn, a string, p json.RawMessage) (any, error) {
		if calls.Add(1) == 1 {
			<-release
			return map[string]string{"answer": "late"}, nil
		}
		return map[string]string{"answer": "fresh"}, nil
	})
	ts := startServer(t, AcceptOptions{Options: Options{Handler: m}})
	client := dial(t, ts.url, DialOptions{Options: Options{CallTimeout: 100 * time.Millisecond}})
	_, err := client.Call(context.Background(), "Slow", nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	close(release)
	got, err := client.Call(context.Background(), "Slow", nil)
	if err != nil || string(got) != `{"answer":"fresh"}` {
		t.Fatalf("second call got %s %v; the late answer must not be taken for it", got, err)
	}
}

// rawServer accepts one websocket with ocpp1.6 and hands it to the test as
// is, to play a peer that misbehaves.
func rawServer(t *testing.T) (url string, peer chan *websocket.Conn) {
	t.Helper()
	peer = make(chan *websocket.Conn, 1)
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ocpp1.6"}})
		if err != nil {
			return
		}
		peer <- ws
		<-hold
		_ = ws.CloseNow()
	}))
	t.Cleanup(func() { close(hold); srv.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp/CP1", peer
}

func readFrame(t *testing.T, ws *websocket.Conn, within time.Duration) (Frame, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		return Frame{}, false
	}
	f, ferr := DecodeFrame(b)
	if ferr != nil {
		t.Fatalf("peer got malformed frame %s: %v", b, ferr)
	}
	return f, true
}

func TestOneOutstandingCallPerDirection(t *testing.T) {
	url, peers := rawServer(t)
	client := dial(t, url, DialOptions{})
	ws := <-peers
	results := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func(i int) {
			got, err := client.Call(context.Background(), "Echo", map[string]int{"i": i})
			if err != nil {
				results <- err.Error()
				return
			}
			results <- string(got)
		}(i)
	}
	first, ok := readFrame(t, ws, 2*time.Second)
	if !ok {
		t.Fatal("no CALL arrived")
	}
	type arrival struct {
		f  Frame
		at time.Time
	}
	next := make(chan arrival, 1)
	go func() {
		f, _ := readFrame(t, ws, 5*time.Second)
		next <- arrival{f, time.Now()}
	}()
	time.Sleep(100 * time.Millisecond)
	answeredAt := time.Now()
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(`[3,"`+first.ID+`",`+string(first.Payload)+`]`))
	a := <-next
	second := a.f
	if second.Type != TypeCall || second.ID == first.ID {
		t.Fatalf("second CALL %+v", second)
	}
	if a.at.Before(answeredAt) {
		t.Fatal("second CALL sent before the first was answered")
	}
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(`[3,"`+second.ID+`",{}]`))
	for i := 0; i < 2; i++ {
		if r := <-results; !strings.HasPrefix(r, "{") {
			t.Fatalf("call failed: %s", r)
		}
	}
}

func TestPeerFloodingCallsIsServedInOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	var inflight, maxInflight atomic.Int32
	m := NewMux()
	m.Handle("Echo", func(ctx context.Context, c *Conn, a string, p json.RawMessage) (any, error) {
		if n := inflight.Add(1); n > maxInflight.Load() {
			maxInflight.Store(n)
		}
		defer inflight.Add(-1)
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		order = append(order, string(p))
		mu.Unlock()
		return json.RawMessage(p), nil
	})
	ts := startServer(t, AcceptOptions{Options: Options{Handler: m}})
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for i := 0; i < 5; i++ {
		msg := fmt.Sprintf(`[2,"m%d","Echo",{"i":%d}]`, i, i)
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		f, ok := readFrame(t, ws, 2*time.Second)
		if !ok || f.Type != TypeCallResult || f.ID != fmt.Sprintf("m%d", i) {
			t.Fatalf("answer %d: %+v", i, f)
		}
	}
	if maxInflight.Load() != 1 {
		t.Errorf("handlers ran concurrently (%d)", maxInflight.Load())
	}
	if fmt.Sprint(order) != `[{"i":0} {"i":1} {"i":2} {"i":3} {"i":4}]` {
		t.Errorf("order %v", order)
	}
}

func TestMalformedMessagesAreAnswered(t *testing.T) {
	ts := startServer(t, AcceptOptions{Options: Options{Handler: echoMux()}})
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(s string) {
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		in   string
		id   string
		code ErrorCode
	}{
		{`garbage`, "-1", FormationViolation},
		{`[2,"a1","Echo",{"x":]`, "a1", FormationViolation},
		{`[2,"a2","Echo"]`, "a2", FormationViolation},
		{`[7,"a3",{}]`, "a3", ProtocolError},
		{`[3,"nobody",{}]`, "", ""}, // answer to nothing: dropped silently
		{`[3,"a4"]`, "", ""},        // malformed answer: never answered
		{`[2,"a5","Echo",{"ok":true}]`, "a5", ""},
	} {
		send(tt.in)
		if tt.id == "" {
			continue
		}
		f, ok := readFrame(t, ws, 2*time.Second)
		if !ok {
			t.Fatalf("%s: no answer", tt.in)
		}
		if f.ID != tt.id {
			t.Fatalf("%s: answered id %q, want %q", tt.in, f.ID, tt.id)
		}
		if tt.code == "" {
			if f.Type != TypeCallResult {
				t.Fatalf("%s: got %+v", tt.in, f)
			}
			continue
		}
		if f.Type != TypeCallError || f.Error.Code != tt.code {
			t.Fatalf("%s: got %+v %+v, want %s", tt.in, f, f.Error, tt.code)
		}
	}
}

func TestMalformedAnswerFailsPendingCall(t *testing.T) {
	url, peers := rawServer(t)
	client := dial(t, url, DialOptions{})
	ws := <-peers
	errc := make(chan error, 1)
	go func() {
		_, err := client.Call(context.Background(), "Heartbeat", nil)
		errc <- err
	}()
	f, ok := readFrame(t, ws, 2*time.Second)
	if !ok {
		t.Fatal("no CALL")
	}
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(`[3,"`+f.ID+`","not an object"]`))
	if e, ok := AsError(<-errc); !ok || e.Code != FormationViolation {
		t.Fatalf("got %v, want FormationViolation", e)
	}
}

func TestSubprotocolRequired(t *testing.T) {
	ts := startServer(t, AcceptOptions{})
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{"ocpp2.0.1"}})
	if err != nil {
		t.Fatalf("handshake should complete before the close: %v", err)
	}
	_, _, err = ws.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusProtocolError {
		t.Errorf("read after handshake: %v, want close 1002", err)
	}
	if err := <-ts.errs; !errors.Is(err, ErrSubprotocol) {
		t.Errorf("Accept: %v", err)
	}
	_, err = Dial(context.Background(), ts.url, DialOptions{Subprotocol: "ocpp2.0.1"})
	if !errors.Is(err, ErrSubprotocol) {
		t.Errorf("Dial: %v, want ErrSubprotocol", err)
	}
}

func TestBasicAuthIsSent(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got <- u + ":" + p
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ocpp/CP1", DialOptions{Username: "CP1", Password: "s3cret"})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Dial: %v, want HTTP 401", err)
	}
	if g := <-got; g != "CP1:s3cret" {
		t.Errorf("basic auth %q", g)
	}
}

func TestAfterReplyRunsAfterTheAnswerIsQueued(t *testing.T) {
	m := NewMux()
	m.Handle("TriggerMessage", func(ctx context.Context, c *Conn, a string, p json.RawMessage) (any, error) {
		c.AfterReply(func() {
			go func() { _, _ = c.Call(context.Background(), "Heartbeat", nil) }()
		})
		return map[string]string{"status": "Accepted"}, nil
	})
	ts := startServer(t, AcceptOptions{Options: Options{Handler: m}})
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(`[2,"t1","TriggerMessage",{"requestedMessage":"Heartbeat"}]`))
	first, _ := readFrame(t, ws, 2*time.Second)
	second, _ := readFrame(t, ws, 2*time.Second)
	if first.Type != TypeCallResult || first.ID != "t1" || second.Type != TypeCall || second.Action != "Heartbeat" {
		t.Fatalf("got %+v then %+v", first, second)
	}
}

func TestCloseFailsPendingCallAndEndsServe(t *testing.T) {
	url, peers := rawServer(t)
	c, err := Dial(context.Background(), url, DialOptions{Options: Options{Logger: quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- c.Serve(context.Background()) }()
	<-peers
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), "Heartbeat", nil)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.CloseNow()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pending call: %v, want ErrClosed", err)
	}
	if err := <-served; err == nil {
		t.Error("Serve returned nil after a dropped connection")
	}
	if _, err := c.Call(context.Background(), "Heartbeat", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v", err)
	}
}

func TestServeEndsCleanlyOnContextCancel(t *testing.T) {
	ts := startServer(t, AcceptOptions{Options: Options{Handler: echoMux()}})
	c, err := Dial(context.Background(), ts.url, DialOptions{Options: Options{Logger: quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx) }()
	server := ts.conn(t)
	if _, err := c.Call(ctx, "Echo", nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v", err)
	}
	select {
	case <-server.Done():
		if server.Err() != nil {
			t.Errorf("server side saw %v, want a clean close", server.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server side did not see the close")
	}
}

func TestKeepaliveClosesOnSilentPeer(t *testing.T) {
	// The raw peer never reads, so it never answers our pings.
	url, peers := rawServer(t)
	c, err := Dial(context.Background(), url, DialOptions{Options: Options{
		PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond, Logger: quietLogger(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- c.Serve(context.Background()) }()
	<-peers
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "keepalive") {
			t.Errorf("Serve: %v, want a keepalive failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dead peer not detected")
	}
}

func TestNoGoroutinesLeftBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ts := startServer(t, AcceptOptions{Options: Options{Handler: echoMux()}})
		for i := 0; i < 10; i++ {
			c, err := Dial(context.Background(), ts.url, DialOptions{Options: Options{Logger: quietLogger()}})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = c.Serve(context.Background()); close(done) }()
			for j := 0; j < 10; j++ {
				if _, err := c.Call(context.Background(), "Echo", nil); err != nil {
					t.Fatal(err)
				}
			}
			_ = c.Close()
			<-done
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+3 {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// TestEscapedIDAndLargeMessages: a CALL whose id is unquoted into a copy
// (an escape) and messages larger than the connection's buffers, with
// pauses between them (the reader waits for data between messages), are
// answered intact.
func TestEscapedIDAndLargeMessages(t *testing.T) {
	ts := startServer(t, AcceptOptions{Options: Options{Handler: echoMux()}})
	ws, _, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	big := strings.Repeat("x", 5000)
	for i, msg := range []string{`[2,"a\u0062c","Echo",{"k":"v"}]`, `[2,"big","Echo",{"k":"` + big + `"}]`, `[2,"x\"y","Echo",{}]`} {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		if err := ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		f, ok := readFrame(t, ws, 2*time.Second)
		want := []string{"abc", "big", `x"y`}[i]
		if !ok || f.Type != TypeCallResult || f.ID != want {
			t.Fatalf("answer %d: %+v, want id %q", i, f, want)
		}
		if i == 1 && !strings.Contains(string(f.Payload), big) {
			t.Fatalf("large payload not echoed intact (%d bytes)", len(f.Payload))
		}
	}
}
