package payments

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/jobs"
	"github.com/joule-ev/joule/internal/store"
)

// Options configure a Service.
type Options struct {
	// BaseURL is the public URL of Joule; the sandbox's hosted pages live
	// under BaseURL/pay/.
	BaseURL string
	Stripe  StripeConfig
	Logger  *slog.Logger
	// TestFaultRate makes that share of the sandbox provider's calls fail
	// (see Faulty), for resilience tests and the chaos test. Live mode is
	// never affected.
	TestFaultRate float64
	FaultSeed     uint64
}

// StripeConfig configures the live provider. Without a SecretKey live mode has
// no provider and live payment calls fail with payment_provider_not_configured.
type StripeConfig struct {
	SecretKey     string // sk_live_... (or sk_test_... for a staging account)
	WebhookSecret string // whsec_... of the /webhooks/stripe endpoint
	// APIURL overrides https://api.stripe.com (stripe-mock in tests).
	APIURL     string
	HTTPClient *http.Client
}

// ErrNotConfigured: live mode has no payment provider.
var ErrNotConfigured = apperr.New(apperr.Unavailable, "payment_provider_not_configured",
	"Live payments are not configured: start Joule with --stripe-secret-key (and --stripe-webhook-secret)")

// Service picks the provider for a mode and delivers providers' notifications
// to the services that asked for the payments.
type Service struct {
	db      *store.DB
	jobs    *jobs.Queue
	log     *slog.Logger
	sandbox *Sandbox
	test    Provider // the sandbox, or the sandbox behind Faulty
	stripe  *Stripe  // nil when live mode is not configured

	mu       sync.RWMutex
	handlers map[string]NotificationHandler
}

// NewService builds the payment service and registers its job kinds on q.
func NewService(db *store.DB, q *jobs.Queue, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Service{db: db, jobs: q, log: opt.Logger, handlers: map[string]NotificationHandler{}}
	s.sandbox = &Sandbox{db: db, notify: s.notify, baseURL: strings.TrimRight(opt.BaseURL, "/")}
	s.test = s.sandbox
	if opt.TestFaultRate > 0 {
		s.test = NewFaulty(s.sandbox, opt.TestFaultRate, opt.FaultSeed)
	}
	if opt.Stripe.SecretKey != "" {
		s.stripe = newStripe(db, opt.Stripe, s.notify, opt.Logger)
	}
	q.Handle(JobNotification, s.deliver)
	return s
}

// Provider returns the provider for a mode: test-mode objects always use the
// sandbox; live mode uses Stripe when configured, else ErrNotConfigured.
func (s *Service) Provider(testMode bool) (Provider, error) {
	if testMode {
		return s.test, nil
	}
	if s.stripe == nil {
		return nil, ErrNotConfigured
	}
	return s.stripe, nil
}

// Faults reports the faults injected into test-mode calls so far, by kind
// (nil when fault injection is off).
func (s *Service) Faults() map[string]int {
	f, ok := s.test.(*Faulty)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.Injected))
	for k, v := range f.Injected {
		out[k] = v
	}
	return out
}

// Sandbox is the test-mode provider, for its hosted pages.
func (s *Service) Sandbox() *Sandbox { return s.sandbox }

// Stripe is the live provider, or nil when it is not configured (its
// webhook endpoint then answers 404).
func (s *Service) Stripe() *Stripe { return s.stripe }

// checkAmount reports a missing amount, currency or key the same way for every
// provider, so that a caller's bug never reaches a provider.
func checkAmount(key string, amount int64, currency string) error {
	switch {
	case key == "":
		return fmt.Errorf("idempotency key is required: %w", ErrInvalid)
	case amount <= 0:
		return fmt.Errorf("amount %d must be positive: %w", amount, ErrInvalid)
	case len(currency) != 3 || strings.ToUpper(currency) != currency:
		return fmt.Errorf("currency %q is not an upper-case ISO 4217 code: %w", currency, ErrInvalid)
	}
	return nil
}
