package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// PrincipalFrom returns who the request acts for (set by authentication).
func PrincipalFrom(ctx context.Context) (org.Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(org.Principal)
	return p, ok
}

// WithPrincipal is used by handlers outside this package that authenticate
// on their own (the Drive API's x-api-key).
func WithPrincipal(ctx context.Context, p org.Principal) context.Context {
	return context.WithValue(ctx, keyPrincipal, p)
}

func principal(ctx context.Context) org.Principal {
	p, _ := PrincipalFrom(ctx)
	return p
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (websocket
// upgrades pass through this middleware).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe gives every request an id (X-Request-Id, kept from the client when
// it is sane), recovers panics, logs one line and records metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get("X-Request-Id")
		if rid == "" || len(rid) > 64 || strings.ContainsAny(rid, " \t\r\n\"") {
			rid = "req_" + id.New()
		}
		w.Header().Set("X-Request-Id", rid)
		r = r.WithContext(context.WithValue(r.Context(), keyRequestID, rid))
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("api: panic", "request_id", rid, "panic", p)
				if rec.status == 0 {
					writeProblem(rec, r, newProblem(http.StatusInternalServerError, "internal_error", "Internal error; quote the request id when reporting it"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(r.Method, route, rec.status, d)
			if strings.HasPrefix(route, "GET /ocpp/") {
				return // a websocket's life is logged by the central system
			}
			attrs := []any{"request_id", rid, "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration_ms", float64(d.Microseconds()) / 1000}
			if p, ok := PrincipalFrom(r.Context()); ok {
				attrs = append(attrs, "org", p.OrgID, "test_mode", p.TestMode)
			}
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			s.log.Log(r.Context(), level, "http", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// authenticate resolves `Authorization: Bearer sk_...` to a principal.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			writeProblem(w, r, newProblem(http.StatusUnauthorized, "missing_api_key", "Missing API key. Send Authorization: Bearer sk_test_... or sk_live_..."))
			return
		}
		p, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if e, ok := apperr.As(err); ok {
				writeProblem(w, r, newProblem(statusOf(e.Kind), e.Code, e.Message))
				return
			}
			s.log.Error("api: authenticate", "err", err)
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "Authentication is unavailable; retry"))
			return
		}
		*r = *r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
		next.ServeHTTP(w, r)
	})
}

// Idempotency keys: a POST with Idempotency-Key is run once per organization,
// mode and key; a repeat within 24 h gets the first response replayed, and the
// same key with a different request is refused.
const (
	idempotencyTTL  = 24 * time.Hour
	idempotencyLock = time.Minute
	maxBody         = 1 << 20
)

type bufferedResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (s *Server) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 {
			writeProblem(w, r, newProblem(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be at most 255 characters"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, "", "Request body too large (1 MiB at most)"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		h.Write([]byte(r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery + "\n"))
		h.Write(body)
		hash := hex.EncodeToString(h.Sum(nil))
		p := principal(r.Context())
		ctx := r.Context()

		var replay *idemRow
		var refuse *Problem
		err = s.db.InTx(ctx, func(tx *store.Tx) error {
			replay, refuse = nil, nil
			now := store.Now()
			res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (org_id, test_mode, key, method, path, request_hash, locked_until, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (org_id, test_mode, key) DO NOTHING`,
				p.OrgID, p.TestMode, key, r.Method, r.URL.Path, hash, now.Add(idempotencyLock), now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return nil // ours: run the request
			}
			row, err := loadIdem(ctx, tx, p, key)
			if err != nil {
				return err
			}
			switch {
			case row.createdAt.Before(now.Add(-idempotencyTTL)): // expired: the key is new again
				_, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET method = $1, path = $2, request_hash = $3, status_code = NULL, response_body = NULL,
					response_type = NULL, locked_until = $4, created_at = $5 WHERE org_id = $6 AND test_mode = $7 AND key = $8`,
					r.Method, r.URL.Path, hash, now.Add(idempotencyLock), now, p.OrgID, p.TestMode, key)
				return err
			case row.hash != hash:
				refuse = newProblem(http.StatusConflict, "idempotency_key_reused",
					"This Idempotency-Key was already used with a different request; use a new key for a new request")
			case row.status.Valid:
				replay = &row
			case row.lockedUntil.Valid && row.lockedUntil.Time.After(now):
				refuse = newProblem(http.StatusConflict, "idempotency_key_in_use", "A request with this Idempotency-Key is still being processed; retry shortly")
			default: // the first attempt died mid-way: take it over
				_, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = $1 WHERE org_id = $2 AND test_mode = $3 AND key = $4`,
					now.Add(idempotencyLock), p.OrgID, p.TestMode, key)
				return err
			}
			return nil
		})
		switch {
		case err != nil:
			s.log.Error("api: idempotency", "err", err, "request_id", requestID(ctx))
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "Could not record the Idempotency-Key; retry"))
			return
		case refuse != nil:
			writeProblem(w, r, refuse)
			return
		case replay != nil:
			w.Header().Set("Content-Type", replay.contentType.String)
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(int(replay.status.Int64))
			_, _ = w.Write([]byte(replay.body.String))
			return
		}

		buf := &bufferedResponse{ResponseWriter: w}
		next.ServeHTTP(buf, r)
		// Server errors are not remembered, so that the client's retry can succeed.
		save := buf.status < 500
		werr := s.db.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			if !save {
				_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1 AND test_mode = $2 AND key = $3`, p.OrgID, p.TestMode, key)
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = $1, response_body = $2, response_type = $3, locked_until = NULL
				WHERE org_id = $4 AND test_mode = $5 AND key = $6`, buf.status, buf.body.String(), buf.Header().Get("Content-Type"), p.OrgID, p.TestMode, key)
			return err
		})
		if werr != nil {
			s.log.Error("api: save idempotent response", "err", werr)
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	})
}

type idemRow struct {
	hash        string
	status      sql.NullInt64
	body        sql.NullString
	contentType sql.NullString
	lockedUntil sql.NullTime
	createdAt   time.Time
}

func loadIdem(ctx context.Context, tx *store.Tx, p org.Principal, key string) (idemRow, error) {
	var row idemRow
	err := tx.QueryRowContext(ctx, `SELECT request_hash, status_code, response_body, response_type, locked_until, created_at
		FROM idempotency_keys WHERE org_id = $1 AND test_mode = $2 AND key = $3`+tx.DB.ForUpdate(), p.OrgID, p.TestMode, key).
		Scan(&row.hash, &row.status, &row.body, &row.contentType, &row.lockedUntil, &row.createdAt)
	return row, err
}

// limitBody caps request bodies for every route.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, "", "Request body too large (1 MiB at most, got "+strconv.FormatInt(r.ContentLength, 10)+" bytes)"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}
