package payments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Faulty wraps a provider and makes a share of its calls fail the way real
// providers fail (for resilience tests and the chaos test; never in live
// mode): before the provider acted (the request was lost) or after it acted
// (the answer was lost: the money moved but the caller does not know). A
// caller that retries with the same idempotency key must end with the money
// moved exactly once either way.
type Faulty struct {
	Provider
	// Rate is the share of calls that fail, 0 to 1.
	Rate float64
	mu   sync.Mutex
	rng  *rand.Rand
	// Injected counts the faults, by kind.
	Injected map[string]int
}

// NewFaulty wraps p; seed makes the faults reproducible.
func NewFaulty(p Provider, rate float64, seed uint64) *Faulty {
	return &Faulty{Provider: p, Rate: rate, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Injected: map[string]int{}}
}

// roll decides this call's fate: "" (no fault), "before" or "after".
func (f *Faulty) roll(op string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.Float64() >= f.Rate {
		return ""
	}
	kind := "before"
	if f.rng.IntN(2) == 0 {
		kind = "after"
	}
	f.Injected[op+":"+kind]++
	return kind
}

func (f *Faulty) lost(op, kind string) error {
	return fmt.Errorf("payments: injected fault: %s response lost %s the provider acted: %w", op, kind, ErrUnavailable)
}

func fault[T any](f *Faulty, op string, call func() (T, error)) (T, error) {
	var zero T
	switch kind := f.roll(op); kind {
	case "before":
		return zero, f.lost(op, kind)
	case "after":
		if _, err := call(); err != nil {
			return zero, err
		}
		return zero, f.lost(op, kind)
	}
	return call()
}

func (f *Faulty) CreateCheckout(ctx context.Context, r CheckoutRequest) (*Checkout, error) {
	return fault(f, "checkout", func() (*Checkout, error) { return f.Provider.CreateCheckout(ctx, r) })
}

func (f *Faulty) ExpireCheckout(ctx context.Context, key, checkoutID string) error {
	_, err := fault(f, "expire", func() (struct{}, error) { return struct{}{}, f.Provider.ExpireCheckout(ctx, key, checkoutID) })
	return err
}

func (f *Faulty) Charge(ctx context.Context, r ChargeRequest) (*Payment, error) {
	return fault(f, "charge", func() (*Payment, error) { return f.Provider.Charge(ctx, r) })
}

func (f *Faulty) Capture(ctx context.Context, key, paymentID string, amount int64) (*Payment, error) {
	return fault(f, "capture", func() (*Payment, error) { return f.Provider.Capture(ctx, key, paymentID, amount) })
}

func (f *Faulty) Cancel(ctx context.Context, key, paymentID string) (*Payment, error) {
	return fault(f, "cancel", func() (*Payment, error) { return f.Provider.Cancel(ctx, key, paymentID) })
}

func (f *Faulty) Refund(ctx context.Context, key, paymentID string, amount int64) (*Payment, error) {
	return fault(f, "refund", func() (*Payment, error) { return f.Provider.Refund(ctx, key, paymentID, amount) })
}
