// Command echo is the baseline of the OCPP benchmark: a plain websocket
// server that answers every OCPP CALL at once with a fixed CALLRESULT and
// stores nothing. It speaks just enough OCPP 1.6J for `joule sim` to drive
// it exactly as it drives `joule serve`: the sim checks every confirmation
// against the OCPP 1.6 schemas, so BootNotification, Heartbeat, Authorize,
// StartTransaction and DataTransfer get the smallest valid answer and every
// other action gets `[3,id,{}]`.
//
//	go run ./bench/echo --addr 127.0.0.1:18090   # chargers connect to ws://127.0.0.1:18090/ocpp/<identity>
//
// One goroutine per connection reads a message, answers it and reads the
// next: the least a websocket server can do per call.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (keep it on loopback)")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var conns, calls atomic.Int64
	var txID atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ocpp/{identity}", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ocpp1.6"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		if ws.Subprotocol() != "ocpp1.6" {
			ws.Close(websocket.StatusProtocolError, "ocpp1.6 required")
			return
		}
		conns.Add(1)
		defer conns.Add(-1)
		ws.SetReadLimit(1 << 20)
		ctx := context.Background() // no per-read timer, as in Joule
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var frame []json.RawMessage
			if json.Unmarshal(msg, &frame) != nil || len(frame) != 4 || string(frame[0]) != "2" {
				continue // only CALLs are answered; the sim sends nothing else here
			}
			calls.Add(1)
			var action string
			_ = json.Unmarshal(frame[2], &action)
			out := make([]byte, 0, 128)
			out = append(out, "[3,"...)
			out = append(out, frame[1]...)
			out = append(out, ',')
			out = append(out, answer(action, &txID)...)
			out = append(out, ']')
			if err := ws.Write(ctx, websocket.MessageText, out); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"connections":%d,"calls":%d}`+"\n", conns.Load(), calls.Load())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = l.Close()
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "echo: answering OCPP CALLs on ws://%s/ocpp/<identity>\n", l.Addr())
	log.Fatal(srv.Serve(l))
}

// answer is the smallest confirmation the OCPP 1.6 schema accepts.
func answer(action string, txID *atomic.Int64) string {
	now := `"` + time.Now().UTC().Format(time.RFC3339) + `"`
	switch action {
	case "BootNotification":
		return `{"status":"Accepted","currentTime":` + now + `,"interval":300}`
	case "Heartbeat":
		return `{"currentTime":` + now + `}`
	case "Authorize":
		return `{"idTagInfo":{"status":"Accepted"}}`
	case "StartTransaction":
		return `{"transactionId":` + strconv.FormatInt(txID.Add(1), 10) + `,"idTagInfo":{"status":"Accepted"}}`
	case "DataTransfer":
		return `{"status":"Accepted"}`
	}
	return `{}`
}
