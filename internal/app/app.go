// Package app assembles Joule from its parts — database, jobs, outbox, APIs
// — and runs it. cmd/joule and the end-to-end tests both start Joule here.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/joule-ev/joule/internal/api"
	"github.com/joule-ev/joule/internal/csms"
	"github.com/joule-ev/joule/internal/driveapi"
	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/sandbox"
	"github.com/joule-ev/joule/internal/session"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
	"github.com/joule-ev/joule/internal/wallet"
	"github.com/joule-ev/joule/internal/web"
	"github.com/joule-ev/joule/internal/webhook"
)

// Config is everything `joule serve` can be told.
type Config struct {
	DatabaseURL string
	Addr        string
	BaseURL     string
	SandboxKey  string
	Version     string
	Logger      *slog.Logger
	JobWorkers  int
	JobPoll     time.Duration
	// OCPPCallTimeout bounds a charger's answer to a command (default 30s).
	OCPPCallTimeout time.Duration
	// OCPPWatchInterval is how often silent chargers are looked for (default 1s).
	OCPPWatchInterval time.Duration
	// Stripe is the live payment provider; without a secret key live
	// payments fail with payment_provider_not_configured.
	Stripe payments.StripeConfig
	// TestPaymentsFaultRate makes that share of test-mode payment provider
	// calls fail (resilience and chaos tests; see payments.Faulty).
	TestPaymentsFaultRate float64
	// TLSCertFile and TLSKeyFile, when set, make the server speak HTTPS and
	// WSS only (OCPP security profile 2: Basic auth over TLS).
	TLSCertFile, TLSKeyFile string
	// NoSandboxChargers keeps the sandbox's virtual chargers from running.
	NoSandboxChargers bool
	// AllowPrivateWebhooks lets live-mode webhook endpoints reach loopback and
	// private addresses (for receivers inside the operator's own network).
	AllowPrivateWebhooks bool
}

// App is a running Joule.
type App struct {
	cfg      Config
	DB       *store.DB
	Jobs     *jobs.Queue
	Outbox   *events.Outbox
	API      *api.Server
	CSMS     *csms.Service
	Payments *payments.Service
	Wallets  *wallet.Service
	Sessions *session.Service
	Webhooks *webhook.Service
	Sandbox  sandbox.Result
	listener net.Listener
	tls      *tls.Config // nil: plain HTTP
	log      *slog.Logger
}

// New opens the database, migrates it, prepares the sandbox and builds the
// server. Nothing listens until Run.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a := &App{cfg: cfg, DB: db, log: cfg.Logger, Outbox: events.NewOutbox()}
	a.Jobs = jobs.NewQueue(db, jobs.Options{Workers: cfg.JobWorkers, PollInterval: cfg.JobPoll, Logger: cfg.Logger})
	if a.Sandbox, err = sandbox.Bootstrap(ctx, db, cfg.SandboxKey); err != nil {
		db.Close()
		return nil, err
	}
	a.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("app: listen on %s: %w", cfg.Addr, err)
	}
	if cfg.TLSCertFile != "" {
		if a.tls, err = tlsConfig(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			db.Close()
			a.listener.Close()
			return nil, err
		}
	}
	if cfg.BaseURL == "" {
		scheme := "http://"
		if a.tls != nil {
			scheme = "https://"
		}
		cfg.BaseURL = scheme + a.listener.Addr().String()
		a.cfg.BaseURL = cfg.BaseURL
	}
	reg := api.NewRegistry()
	a.CSMS = csms.New(db, a.Outbox, csms.Options{Logger: cfg.Logger, Registry: reg, CallTimeout: cfg.OCPPCallTimeout, WatchInterval: cfg.OCPPWatchInterval})
	a.Payments = payments.NewService(db, a.Jobs, payments.Options{BaseURL: cfg.BaseURL, Stripe: cfg.Stripe, Logger: cfg.Logger,
		TestFaultRate: cfg.TestPaymentsFaultRate, FaultSeed: uint64(time.Now().UnixNano())})
	a.Wallets = wallet.NewService(db, a.Outbox, a.Jobs, a.Payments, wallet.Options{BaseURL: cfg.BaseURL, Logger: cfg.Logger,
		UserUpdated: (&users.Service{Outbox: a.Outbox}).Touch})
	a.Sessions = session.New(db, a.Outbox, a.Jobs, a.CSMS, sessionPayments{a.Payments, a.Wallets}, session.Options{Logger: cfg.Logger, BaseURL: cfg.BaseURL})
	a.CSMS.SetHooks(a.Sessions)
	a.Payments.OnNotification("session", a.Sessions.HandleNotification)
	a.Webhooks = webhook.New(db, a.Jobs, a.Outbox, reg, webhook.Options{AllowPrivate: cfg.AllowPrivateWebhooks, Logger: cfg.Logger,
		Drive: webhook.DriveFormat{Name: driveapi.EventName, Body: driveapi.WebhookBody}})
	a.API = api.New(api.Deps{DB: db, Outbox: a.Outbox, Jobs: a.Jobs, CSMS: a.CSMS, Sessions: a.Sessions, Log: cfg.Logger, Registry: reg, Webhooks: a.Webhooks, Version: cfg.Version, BaseURL: cfg.BaseURL,
		Payments: a.Payments, Wallets: a.Wallets, Pages: web.New(db, a.Payments, cfg.Logger)})
	driveapi.Mount(a.API, driveapi.Deps{DB: db, Sessions: a.Sessions, Users: &users.Service{Outbox: a.Outbox}, Log: cfg.Logger})
	return a, nil
}

// Addr is the address the server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// BaseURL is the server's public URL.
func (a *App) BaseURL() string { return a.cfg.BaseURL }

// Run serves until ctx is done, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	// Requests (and the chargers' websockets, which http.Server.Shutdown does
	// not track) run under base, cancelled first on shutdown.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{Handler: a.API, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn), BaseContext: func(net.Listener) context.Context { return base }}
	var wg sync.WaitGroup
	jctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(2)
	go func() { defer wg.Done(); _ = a.Jobs.Run(jctx) }()
	go func() { defer wg.Done(); a.CSMS.Run(jctx) }()

	errc := make(chan error, 1)
	srv.TLSConfig = a.tls
	go func() {
		if a.tls != nil {
			errc <- srv.ServeTLS(a.listener, "", "")
			return
		}
		errc <- srv.Serve(a.listener)
	}()
	sctx, stopSandbox := context.WithCancel(jctx)
	if !a.cfg.NoSandboxChargers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sandbox.RunChargers(sctx, a.DB, a.ocppURL(), a.selfTLS(), a.log); err != nil && sctx.Err() == nil {
				a.log.Error("sandbox chargers", "err", err)
			}
		}()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		stopSandbox()
		cancelBase()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopSandbox()
	cancelBase()
	a.CSMS.Wait()
	stopJobs()
	wg.Wait()
	a.Webhooks.Close() // webhook attempts still in flight are abandoned, as in a crash
	a.DB.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// sessionPayments gives sessions the payment service, users' saved payment
// methods and the wallet bookkeeping after a hold, capture or release.
type sessionPayments struct {
	*payments.Service
	wallets *wallet.Service
}

func (sessionPayments) DefaultMethod(ctx context.Context, q store.Querier, p org.Principal, userID string) (payments.Method, error) {
	m, _, err := wallet.DefaultMethod(ctx, q, p, userID)
	return m.Method(), err
}

func (sp sessionPayments) AfterWalletChange(ctx context.Context, tx *store.Tx, walletID string) error {
	return sp.wallets.AfterChange(ctx, tx, walletID)
}
