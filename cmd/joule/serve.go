package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/joule-ev/joule/internal/app"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

type serveCmd struct {
	dbFlag
	Addr                string        `env:"JOULE_ADDR" default:"127.0.0.1:8080" help:"Address to listen on."`
	BaseURL             string        `name:"base-url" env:"JOULE_BASE_URL" help:"Public URL of this server (for links in responses); default http://<addr>."`
	SandboxKey          string        `name:"sandbox-key" env:"JOULE_SANDBOX_KEY" help:"Use this sk_test_ key for the sandbox organization (so scripts can use a known key)."`
	LogFormat           string        `name:"log-format" env:"JOULE_LOG_FORMAT" default:"text" enum:"text,json" help:"Log format: text or json."`
	LogLevel            string        `name:"log-level" env:"JOULE_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Minimum log level."`
	JobWorkers          int           `name:"job-workers" env:"JOULE_JOB_WORKERS" default:"16" help:"Concurrent background jobs in this process."`
	JobPoll             time.Duration `name:"job-poll" env:"JOULE_JOB_POLL" default:"250ms" help:"How often to look for due jobs."`
	TLSCert             string        `name:"tls-cert" env:"JOULE_TLS_CERT" type:"existingfile" help:"PEM certificate: serve HTTPS and WSS only (OCPP security profile 2)."`
	TLSKey              string        `name:"tls-key" env:"JOULE_TLS_KEY" type:"existingfile" help:"PEM private key of --tls-cert."`
	NoSandboxChargers   bool          `name:"no-sandbox-chargers" env:"JOULE_NO_SANDBOX_CHARGERS" help:"Do not run the sandbox's virtual chargers."`
	TestFaultRate       float64       `name:"test-payments-fault-rate" env:"JOULE_TEST_PAYMENTS_FAULT_RATE" default:"0" help:"Make this share (0-1) of test-mode payment provider calls fail, for resilience testing. Live mode is never affected."`
	StripeSecretKey     string        `name:"stripe-secret-key" env:"JOULE_STRIPE_SECRET_KEY" help:"Stripe secret key for live-mode payments (test mode always uses the sandbox provider)."`
	StripeWebhookSecret string        `name:"stripe-webhook-secret" env:"JOULE_STRIPE_WEBHOOK_SECRET" help:"Signing secret (whsec_...) of the Stripe webhook endpoint <base-url>/webhooks/stripe."`
	StripeAPIURL        string        `name:"stripe-api-url" env:"JOULE_STRIPE_API_URL" help:"Stripe API base URL (for stripe-mock); default https://api.stripe.com."`
	WebhookAllowPrivate bool          `name:"webhook-allow-private" env:"JOULE_WEBHOOK_ALLOW_PRIVATE" help:"Let live-mode webhook endpoints reach loopback, private and link-local addresses (receivers inside your own network). Off by default: it guards against SSRF."`
	PprofAddr           string        `name:"pprof-addr" env:"JOULE_PPROF_ADDR" help:"Debug: serve Go's pprof profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060. Keep it on loopback: off by default."`
}

func newLogger(format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func (c *serveCmd) Run() error {
	log := newLogger(c.LogFormat, c.LogLevel)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, app.Config{DatabaseURL: c.DatabaseURL, Addr: c.Addr, BaseURL: c.BaseURL, SandboxKey: c.SandboxKey,
		Version: buildVersion(), Logger: log, JobWorkers: c.JobWorkers, JobPoll: c.JobPoll, NoSandboxChargers: c.NoSandboxChargers, TLSCertFile: c.TLSCert, TLSKeyFile: c.TLSKey, TestPaymentsFaultRate: c.TestFaultRate, AllowPrivateWebhooks: c.WebhookAllowPrivate,
		Stripe: payments.StripeConfig{SecretKey: c.StripeSecretKey, WebhookSecret: c.StripeWebhookSecret, APIURL: c.StripeAPIURL}})
	if err != nil {
		return err
	}
	if c.PprofAddr != "" {
		if err := servePprof(c.PprofAddr, log); err != nil {
			return err
		}
	}
	log.Info("joule serving", "version", buildVersion(), "url", a.BaseURL(), "database", a.DB.Redacted(), "dialect", a.DB.Dialect)
	switch {
	case a.Sandbox.Created:
		fmt.Fprintf(os.Stderr, "\n  Sandbox organization %s created.\n  Test API key: %s\n  Try: curl -H 'Authorization: Bearer %s' %s/v1/organization\n\n",
			a.Sandbox.OrgID, a.Sandbox.Key, a.Sandbox.Key, a.BaseURL())
	case a.Sandbox.Key != "":
		fmt.Fprintf(os.Stderr, "\n  Sandbox test API key: %s\n\n", a.Sandbox.Key)
	default:
		fmt.Fprintf(os.Stderr, "\n  Using the existing organization %s. Pass --sandbox-key or run `joule keys create` for a key.\n\n", a.Sandbox.OrgID)
	}
	return a.Run(ctx)
}

// servePprof serves the pprof handlers on their own listener, never on the
// public one.
func servePprof(addr string, log *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("pprof profiles served (debug)", "url", "http://"+l.Addr().String()+"/debug/pprof/")
	go func() { _ = http.Serve(l, mux) }() //nolint:gosec // a debug listener on an address the operator chose
	return nil
}

type migrateCmd struct{ dbFlag }

func (c *migrateCmd) Run() error {
	ctx := context.Background()
	db, err := store.Open(ctx, c.DatabaseURL, store.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	cur, _, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("database %s at schema version %d\n", db.Redacted(), cur)
	return nil
}

type keysCmd struct {
	Create keysCreateCmd `cmd:"" help:"Create an API key and print it (shown once)."`
}

type keysCreateCmd struct {
	dbFlag
	Org  string `help:"Organization id (default: the first organization)."`
	Mode string `default:"test" enum:"test,live" help:"test or live."`
	Name string `default:"cli" help:"A name to recognize the key by."`
}

func (c *keysCreateCmd) Run() error {
	ctx := context.Background()
	db, err := store.Open(ctx, c.DatabaseURL, store.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	secret := org.NewKey(c.Mode == "test")
	err = db.InTx(ctx, func(tx *store.Tx) error {
		orgID := strings.TrimSpace(c.Org)
		if orgID == "" {
			if orgID, err = org.FirstID(ctx, tx); err != nil {
				return err
			}
			if orgID == "" {
				o, err := org.Create(ctx, tx, "Organization")
				if err != nil {
					return err
				}
				orgID = o.ID
			}
		} else if _, err := org.Get(ctx, tx, orgID); err != nil {
			return err
		}
		_, err := org.AddKey(ctx, tx, orgID, c.Name, secret)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Println(secret)
	return nil
}
