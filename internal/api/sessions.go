package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/session"
)

// SessionInput is POST /v1/sessions.
type SessionInput struct {
	User      string         `json:"user" pattern:"^[0-9a-f]{24}$"`
	Connector string         `json:"connector" pattern:"^[0-9a-f]{24}$"`
	Type      string         `json:"type" enum:"wallet,payment_link,postpaid" doc:"How the session is paid"`
	Target    map[string]any `json:"target,omitempty" doc:"Optional targets, e.g. {\"payment_expiry_time\": 600} (seconds) for payment links"`
}

// RefundInput is the optional body of POST /v1/sessions/{id}/refund.
type RefundInput struct {
	Amount int64  `json:"amount,omitempty" minimum:"1" doc:"Cents to refund; default all that is left"`
	Reason string `json:"reason,omitempty" maxLength:"500"`
}

// SessionListInput filters GET /v1/sessions.
type SessionListInput struct {
	ListParams
	User          string    `query:"user" pattern:"^[0-9a-f]{24}$"`
	Status        string    `query:"status" enum:"created,waiting_to_start,started,paused,waiting_to_stop,stop_failed,ended,completed,failed,canceled,refunded"`
	Connector     string    `query:"connector" pattern:"^[0-9a-f]{24}$"`
	Chargestation string    `query:"chargestation" pattern:"^[0-9a-f]{24}$"`
	CreatedAfter  time.Time `query:"created_after" doc:"RFC 3339"`
	CreatedBefore time.Time `query:"created_before" doc:"RFC 3339"`
}

// settleWait gives a charger a moment to answer a command, so that the
// response shows the outcome when it comes quickly; the state machine does
// not depend on it. It waits for the session's changes in this process
// (session.Watch), looks again every quarter second for changes made
// elsewhere, and reads only the status while it waits: the whole session,
// priced, is read once at the end.
func (s *Server) settleWait(ctx context.Context, p org.Principal, x *session.Session, transient ...string) *session.Session {
	return s.waitSession(ctx, p, x, func(status, _ string) bool { return !slices.Contains(transient, status) })
}

// waitSession waits up to two seconds until done says so of the session's
// status and payment URL, then returns the session as it is then (x when
// done held at once, or when it cannot be read).
func (s *Server) waitSession(ctx context.Context, p org.Principal, x *session.Session, done func(status, paymentURL string) bool) *session.Session {
	url := ""
	if x.Payment != nil {
		url = x.Payment.URL
	}
	if done(x.Status, url) {
		return x
	}
	deadline := time.Now().Add(2 * time.Second)
	for left := time.Until(deadline); left > 0 && ctx.Err() == nil; left = time.Until(deadline) {
		changed, stop := session.Watch(x.ID)
		st, u, err := s.Sessions.Status(ctx, p, x.ID) // after Watch: no change slips in between
		if err != nil {
			stop()
			return x
		}
		if done(st, u) {
			stop()
			break
		}
		session.WaitChange(changed, min(left, 250*time.Millisecond))
		stop()
	}
	if y, err := s.Sessions.Get(ctx, p, x.ID); err == nil {
		return y
	}
	return x
}

func (s *Server) registerSessions() {
	const S = "Sessions"
	huma.Register(s.api, huma.Operation{OperationID: "create-session", Method: http.MethodPost, Path: "/v1/sessions", Tags: []string{S},
		Summary: "Start a charging session", DefaultStatus: http.StatusCreated,
		Description: "Creates the session and asks the charger to start it (postpaid, wallet) or, for payment_link, returns `payment.url`, " +
			"the hosted page where the driver authorizes the card. Wallet checks answer 405 with the messages of spec 000. " +
			"A connector refuses a new start for `connector_start_cooldown` seconds after a start (409 `connector_cooldown`)."},
		func(ctx context.Context, in *struct{ Body SessionInput }) (*Body[*session.Session], error) {
			p := principal(ctx)
			x, err := s.Sessions.Create(ctx, p, session.CreateInput{User: in.Body.User, Connector: in.Body.Connector, Type: in.Body.Type, Target: in.Body.Target})
			if err != nil {
				return nil, fail(ctx, err)
			}
			if in.Body.Type == session.TypePaymentLink {
				// The hosted page is made by a job; wait a moment for its URL.
				x = s.waitSession(ctx, p, x, func(_, url string) bool { return x.Payment == nil || url != "" })
			}
			return one(x), nil
		})
	huma.Register(s.api, op("list-sessions", http.MethodGet, "/v1/sessions", S, "List sessions"),
		func(ctx context.Context, in *SessionListInput) (*ListOutput[*session.Session], error) {
			xs, more, err := session.List(ctx, s.db.Q(), principal(ctx), session.Filter{User: in.User, Status: in.Status, Connector: in.Connector,
				Chargestation: in.Chargestation, CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, fail(ctx, err)
			}
			return page(xs, more, func(x *session.Session) string { return x.ID }), nil
		})
	huma.Register(s.api, op("get-session", http.MethodGet, "/v1/sessions/{id}", S, "Get a session with its live state and cost so far"),
		func(ctx context.Context, in *IDPath) (*Body[*session.Session], error) {
			x, err := s.Sessions.Get(ctx, principal(ctx), in.ID)
			return get(ctx, x, err)
		})
	type action struct {
		name, summary string
		fn            func(context.Context, org.Principal, string) (*session.Session, error)
		transient     []string
	}
	for _, a := range []action{
		{"stop", "Stop a session (idempotent: an ended session is returned as is)", s.Sessions.Stop, []string{session.StatusWaitingToStop}},
		{"pause", "Pause the energy flow (confirmed by the charger's SuspendedEVSE)", s.Sessions.Pause, nil},
		{"resume", "Resume the energy flow", s.Sessions.Resume, nil},
	} {
		h := func(ctx context.Context, in *IDPath) (*Body[*session.Session], error) {
			p := principal(ctx)
			x, err := a.fn(ctx, p, in.ID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			if a.name != "stop" {
				x = s.settleWait(ctx, p, x, session.StatusStarted, session.StatusPaused) // wait for the confirming status, briefly
				if y, err := s.Sessions.Get(ctx, p, x.ID); err == nil {
					x = y
				}
				return one(x), nil
			}
			return one(s.settleWait(ctx, p, x, a.transient...)), nil
		}
		for _, m := range []string{http.MethodPost, http.MethodGet} {
			o := op(m+"-session-"+a.name, m, "/v1/sessions/{id}/"+a.name, S, a.summary)
			o.OperationID = strings.ToLower(m) + "-session-" + a.name
			o.DefaultStatus = http.StatusOK
			if m == http.MethodGet {
				o.Description = "The GET form is kept because spec 000/001 document it; prefer POST."
			}
			huma.Register(s.api, o, h)
		}
	}
	retry := op("retry-session-payment", http.MethodPost, "/v1/sessions/{id}/payment/retry", S, "Charge a postpaid session's debt again")
	retry.DefaultStatus = http.StatusOK
	huma.Register(s.api, retry, func(ctx context.Context, in *IDPath) (*Body[*session.Session], error) {
		x, err := s.Sessions.RetryPayment(ctx, principal(ctx), in.ID)
		return get(ctx, x, err)
	})
	refund := op("refund-session", http.MethodPost, "/v1/sessions/{id}/refund", S, "Refund a completed session, in full or in part")
	refund.DefaultStatus = http.StatusOK
	refund.Description = "Wallet sessions are refunded to the wallet at once; card sessions through the payment provider " +
		"(`session.payment.refunded` when done). Pending refunds count against what can still be refunded."
	huma.Register(s.api, refund, func(ctx context.Context, in *struct {
		IDPath
		Body *RefundInput
	}) (*Body[*session.Session], error) {
		p := principal(ctx)
		if in.Body == nil {
			in.Body = &RefundInput{}
		}
		x, err := s.Sessions.Refund(ctx, p, in.ID, in.Body.Amount, in.Body.Reason)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return one(s.settleWait(ctx, p, x, session.StatusCompleted)), nil
	})
	huma.Register(s.api, op("get-session-cdr", http.MethodGet, "/v1/sessions/{id}/cdr", S, "Get the session's CDR (OCPI 2.2.1)"),
		func(ctx context.Context, in *IDPath) (*Body[json.RawMessage], error) {
			c, err := session.GetCDR(ctx, s.db.Q(), principal(ctx), in.ID)
			return get(ctx, c, err)
		})
	huma.Register(s.api, op("get-session-receipt", http.MethodGet, "/v1/sessions/{id}/receipt", S, "Get a signed, expiring URL to the PDF receipt"),
		func(ctx context.Context, in *IDPath) (*Body[session.Receipt], error) {
			r, err := s.Sessions.ReceiptURL(ctx, principal(ctx), in.ID)
			return get(ctx, r, err)
		})
	s.mux.HandleFunc("GET /receipts/{file}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
		if !ok {
			http.NotFound(w, r)
			return
		}
		pdf, err := s.Sessions.ReceiptPDF(r.Context(), id, r.URL.Query().Get("expires"), r.URL.Query().Get("signature"))
		if errors.Is(err, session.ErrBadReceiptLink) {
			writeProblem(w, r, newProblem(http.StatusForbidden, "receipt_link_invalid", "This receipt link is invalid or has expired; ask for a new one"))
			return
		}
		if err != nil {
			writeProblem(w, r, newProblem(http.StatusInternalServerError, "internal_error", "Could not render the receipt"))
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `inline; filename="receipt-`+id+`.pdf"`)
		_, _ = w.Write(pdf)
	})
}
