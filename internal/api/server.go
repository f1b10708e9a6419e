// Package api is Joule's Platform API (/v1): HTTP handlers over the domain
// packages, with the conventions every endpoint shares — RFC 9457 problems,
// cursor pagination, Idempotency-Key on POST, request ids, OpenAPI 3.1.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/session"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/wallet"
	"github.com/joule-ev/joule/internal/webhook"
)

// Deps are what the handlers need.
type Deps struct {
	DB       *store.DB
	Outbox   *events.Outbox
	CSMS     *csms.Service
	Sessions *session.Service
	Jobs     *jobs.Queue
	Log      *slog.Logger
	Registry *prometheus.Registry
	Webhooks *webhook.Service
	Version  string
	BaseURL  string // public URL of this server, for links in responses
	Payments *payments.Service
	Wallets  *wallet.Service
	// Pages serves the hosted payment pages (/pay/...) and Stripe's webhooks.
	Pages http.Handler
}

// Server is the HTTP front of Joule.
type Server struct {
	Deps
	db   *store.DB
	log  *slog.Logger
	auth interface {
		Authenticate(context.Context, string) (org.Principal, error)
	}
	metrics *httpMetrics
	mux     *http.ServeMux
	api     huma.API
	handler http.Handler
	// drive serves /drive/v1/ behind the Drive API's own authentication
	// (x-api-key, internal/driveapi); set by MountDrive.
	drive http.Handler
}

func init() { installHumaErrors() }

// New builds the server and registers every route.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = NewRegistry()
	}
	s := &Server{Deps: d, db: d.DB, log: d.Log, auth: newKeyCache(d.DB, 30*time.Second), metrics: newHTTPMetrics(d.Registry), mux: http.NewServeMux()}

	cfg := huma.DefaultConfig("Joule Platform API", d.Version)
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	cfg.CreateHooks = nil // no $schema links in bodies: responses keep the spec's shapes
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = ""    // our own page, with no third-party assets
	cfg.SchemasPath = "" // schemas live in /openapi.json
	cfg.RejectUnknownQueryParameters = true
	cfg.Info.Description = "Joule runs EV charging sessions end to end: chargers over OCPP, pricing, wallets and cards, signed webhooks. " +
		"Authenticate with `Authorization: Bearer sk_test_...` (test mode) or `sk_live_...` (live mode). Errors are RFC 9457 problem documents with a stable `code`."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key: sk_test_... or sk_live_..."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	s.api = humago.New(s.mux, cfg)

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /docs", s.docs)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/docs", http.StatusFound) })

	s.registerOrganization()
	s.registerEvents()
	s.registerUsers()
	s.registerNetwork()
	s.registerRates()
	s.registerWebhooks()
	s.registerCommands()
	s.registerWallets()
	s.registerTopUps()
	s.registerPaymentMethods()
	if d.Pages != nil {
		s.mux.Handle("/pay/", d.Pages)
		s.mux.Handle("POST /webhooks/stripe", d.Pages)
	}
	s.registerSessions()
	s.mux.Handle("GET /ocpp/{identity}", d.CSMS)

	authed := s.authenticate(s.idempotency(s.mux))
	s.handler = s.observe(limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			authed.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/drive/v1/") {
			if s.drive == nil { // never reach its operations unauthenticated
				writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", "The Drive API is not enabled on this server"))
				return
			}
			s.drive.ServeHTTP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})))
	return s
}

// API is the huma API, for packages that add operations (the Drive API,
// sessions, payments).
func (s *Server) API() huma.API { return s.api }

// Mux is the router, for non-JSON routes (OCPP websockets, hosted pages).
func (s *Server) Mux() *http.ServeMux { return s.mux }

// MountDrive routes /drive/v1/ through auth (the Drive API's x-api-key
// check, which sets the principal with WithPrincipal), then Idempotency-Key
// handling and the router, as /v1/ goes through Bearer keys. The Drive API
// registers its operations on API(); call this before serving.
func (s *Server) MountDrive(auth func(http.Handler) http.Handler) {
	s.drive = auth(s.idempotency(s.mux))
}

// Authenticate resolves an API key as Bearer authentication does (same
// cache), for the Drive API's x-api-key.
func (s *Server) Authenticate(ctx context.Context, secret string) (org.Principal, error) {
	return s.auth.Authenticate(ctx, secret)
}

// Fail turns a domain error into a problem document, for operations and
// middleware of other packages (the Drive API).
func Fail(ctx context.Context, err error) error { return fail(ctx, err) }

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.db.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","database":"unreachable"}`))
		return
	}
	cur, latest, err := s.db.MigrationStatus(ctx)
	if err != nil || cur < latest {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","database":"migrations pending"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready","database":"` + string(s.db.Dialect) + `"}`))
}

// schemaName names OpenAPI schemas after their package and type
// (NetworkAddress, UsersAddress), so that two packages' types of the same
// name never collide; the API's own types keep their bare names.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	pkg := path.Base(t.PkgPath())
	if t.Name() == "" || pkg == "." || pkg == "api" || strings.Contains(t.PkgPath(), "/huma/") || !strings.Contains(t.PkgPath(), "joule") {
		return name
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

// Pagination shared by every list.

// ListParams are the cursor parameters of every list endpoint.
type ListParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

// List is one page of objects, newest first.
type List[T any] struct {
	Object     string `json:"object" enum:"list"`
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page"`
}

// ListOutput wraps a page for huma.
type ListOutput[T any] struct{ Body List[T] }

func page[T any](items []T, more bool, idOf func(T) string) *ListOutput[T] {
	out := &ListOutput[T]{Body: List[T]{Object: "list", Data: items, HasMore: more}}
	if out.Body.Data == nil {
		out.Body.Data = []T{}
	}
	if more && len(items) > 0 {
		out.Body.NextCursor = idOf(items[len(items)-1])
	}
	return out
}

// Body wraps a single object for huma.
type Body[T any] struct{ Body T }

func one[T any](v T) *Body[T] { return &Body[T]{Body: v} }

// IDPath is the {id} path parameter.
type IDPath struct {
	ID string `path:"id" pattern:"^[0-9a-f]{24}$" doc:"Object id (24 hex characters)"`
}
