package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/apperr"
)

// Problem is an RFC 9457 problem document with a stable machine-readable
// code. `message` repeats `detail` for clients written against the eDRV-style
// documents, which show a bare message.
type Problem struct {
	Type      string         `json:"type" doc:"URI of the problem type (documentation of the code)"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code" doc:"Stable machine-readable error code"`
	Message   string         `json:"message,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []ProblemField `json:"errors,omitempty"`
}

// ProblemField names one invalid input.
type ProblemField struct {
	Location string `json:"location,omitempty" doc:"Where, e.g. body.email or query.limit"`
	Message  string `json:"message"`
}

func (p *Problem) Error() string  { return p.Code + ": " + p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

func newProblem(status int, code, detail string) *Problem {
	if code == "" {
		code = defaultCode(status)
	}
	return &Problem{Type: "/docs/errors#" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail, Message: detail}
}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "validation_failed"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "error"
}

// installHumaErrors makes every error huma produces (validation, malformed
// bodies, unknown fields) a Problem. Values are never echoed back: they may
// hold secrets.
func installHumaErrors() {
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		p := newProblem(status, "", msg)
		switch status {
		case http.StatusBadRequest: // huma answers 400 when the body is missing or cannot be parsed
			p.Code = "malformed_json"
			if strings.Contains(msg, "body is required") {
				p.Code = "missing_body"
			}
		case http.StatusUnprocessableEntity:
			p.Code = "validation_failed"
		}
		for _, e := range errs {
			var d *huma.ErrorDetail
			if errors.As(e, &d) {
				p.Errors = append(p.Errors, ProblemField{Location: d.Location, Message: d.Message})
				if strings.Contains(d.Message, "unexpected property") {
					p.Code = "unknown_field"
				}
			} else if e != nil {
				p.Errors = append(p.Errors, ProblemField{Message: e.Error()})
			}
		}
		p.Type = "/docs/errors#" + p.Code
		if len(p.Errors) > 0 && (p.Detail == "validation failed" || p.Detail == http.StatusText(status)) {
			p.Detail = p.Errors[0].Location + ": " + p.Errors[0].Message
			p.Message = p.Detail
		}
		if hctx != nil {
			p.RequestID = requestID(hctx.Context())
		}
		return p
	}
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return huma.NewErrorWithContext(nil, status, msg, errs...)
	}
}

// statusOf maps a domain error kind to its HTTP status.
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.NotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.PaymentFailed:
		return http.StatusPaymentRequired
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail turns any error from the domain into a problem. Unknown errors are
// logged with the request id and reported without their text.
func fail(ctx context.Context, err error) error {
	if e, ok := apperr.As(err); ok {
		p := newProblem(statusOf(e.Kind), e.Code, e.Message)
		if e.Field != "" {
			p.Errors = []ProblemField{{Location: "body." + e.Field, Message: e.Message}}
		}
		p.RequestID = requestID(ctx)
		return p
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		p := newProblem(http.StatusServiceUnavailable, "timeout", "The request did not finish in time")
		p.RequestID = requestID(ctx)
		return p
	}
	slog.ErrorContext(ctx, "api: internal error", "err", err, "request_id", requestID(ctx))
	p = newProblem(http.StatusInternalServerError, "internal_error", "Internal error; quote the request id when reporting it")
	p.RequestID = requestID(ctx)
	return p
}

// writeProblem answers outside huma (middleware).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.RequestID = requestID(r.Context())
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
