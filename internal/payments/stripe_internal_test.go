package payments

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stripe/stripe-go/v85"
)

func TestStripeErrorMapping(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{&stripe.Error{Type: stripe.ErrorTypeCard, Code: "card_declined", DeclineCode: "insufficient_funds", HTTPStatusCode: 402}, ErrDeclined},
		{&stripe.Error{Type: stripe.ErrorTypeInvalidRequest, HTTPStatusCode: 400}, ErrInvalid},
		{&stripe.Error{Type: stripe.ErrorTypeIdempotency, HTTPStatusCode: 400}, ErrInvalid},
		{&stripe.Error{Type: stripe.ErrorTypeInvalidRequest, HTTPStatusCode: 404}, ErrNotFound},
		{&stripe.Error{Type: stripe.ErrorTypeAPI, HTTPStatusCode: 500}, ErrUnavailable},
		{&stripe.Error{Type: stripe.ErrorTypeRateLimit, HTTPStatusCode: 429}, ErrUnavailable},
		{&stripe.Error{Type: stripe.ErrorTypeInvalidRequest, HTTPStatusCode: http.StatusConflict}, ErrUnavailable}, // a concurrent request with the key
		{errors.New("dial tcp: connection refused"), ErrUnavailable},
	}
	for _, c := range cases {
		if got := mapError(c.err); !errors.Is(got, c.want) {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
	p := declined(&stripe.Error{Type: stripe.ErrorTypeCard, Code: "card_declined", DeclineCode: "insufficient_funds", Msg: "Your card has insufficient funds.",
		PaymentIntent: &stripe.PaymentIntent{ID: "pi_1", Amount: 500, Currency: "usd"}})
	if p == nil || p.FailureCode != "insufficient_funds" || p.ID != "pi_1" || p.Currency != "USD" || p.Status != StatusFailed {
		t.Fatalf("declined: %+v", p)
	}
	if declined(&stripe.Error{Type: stripe.ErrorTypeAPI}) != nil {
		t.Fatal("an API error is not a decline")
	}
}

func TestStripePaymentStatuses(t *testing.T) {
	card := &stripe.PaymentMethod{ID: "pm_1", Card: &stripe.PaymentMethodCard{Brand: "visa", Last4: "4242", ExpMonth: 4, ExpYear: 2031}}
	cases := []struct {
		pi                 stripe.PaymentIntent
		status             string
		captured, refunded int64
	}{
		{stripe.PaymentIntent{Status: "requires_capture", Amount: 2000}, StatusAuthorized, 0, 0},
		{stripe.PaymentIntent{Status: "succeeded", Amount: 2000, AmountReceived: 1500}, StatusCaptured, 1500, 0},
		{stripe.PaymentIntent{Status: "succeeded", Amount: 2000, AmountReceived: 2000, LatestCharge: &stripe.Charge{AmountRefunded: 300}}, StatusRefunded, 2000, 300},
		{stripe.PaymentIntent{Status: "canceled", Amount: 2000}, StatusCanceled, 0, 0},
		{stripe.PaymentIntent{Status: "requires_payment_method", Amount: 2000}, StatusRequiresPayment, 0, 0},
		{stripe.PaymentIntent{Status: "requires_payment_method", Amount: 2000, LastPaymentError: &stripe.Error{Code: "card_declined", DeclineCode: "lost_card"}}, StatusFailed, 0, 0},
		{stripe.PaymentIntent{Status: "requires_action", Amount: 2000}, StatusRequiresPayment, 0, 0},
	}
	for _, c := range cases {
		c.pi.ID, c.pi.Currency, c.pi.PaymentMethod, c.pi.Customer = "pi_1", "usd", card, &stripe.Customer{ID: "cus_1"}
		p := toPayment(&c.pi)
		if p.Status != c.status || p.Captured != c.captured || p.Refunded != c.refunded || p.Currency != "USD" ||
			p.Method.Token != "pm_1" || p.Method.Customer != "cus_1" || p.Method.Last4 != "4242" || p.Method.ExpYear != 2031 {
			t.Errorf("%s: %+v %+v", c.pi.Status, p, p.Method)
		}
		if c.pi.LastPaymentError != nil && p.FailureCode != "lost_card" {
			t.Errorf("failure code %q", p.FailureCode)
		}
	}
}

func TestStripeEventNotifications(t *testing.T) {
	md := map[string]string{mdPurpose: "top_up", mdReference: "t1", mdOrg: "o1", mdTestMode: "false", mdFlow: "checkout"}
	event := func(typ string, obj any) stripe.Event {
		raw, _ := json.Marshal(obj)
		return stripe.Event{ID: "evt_1", Type: stripe.EventType(typ), Data: &stripe.EventData{Raw: raw}}
	}
	cs := map[string]any{"id": "cs_1", "object": "checkout.session", "metadata": md, "payment_intent": "pi_1", "amount_total": 2000, "currency": "usd"}
	pi := map[string]any{"id": "pi_1", "object": "payment_intent", "metadata": md, "status": "requires_payment_method", "amount": 2000, "currency": "usd",
		"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "message": "declined"}}
	cases := []struct {
		ev   stripe.Event
		typ  string
		ours bool
	}{
		{event("checkout.session.completed", cs), CheckoutCompleted, true},
		{event("checkout.session.expired", cs), CheckoutExpired, true},
		{event("payment_intent.payment_failed", pi), CheckoutFailed, true},
		{event("payment_intent.canceled", pi), PaymentCanceled, true},
		{event("checkout.session.completed", map[string]any{"id": "cs_2", "object": "checkout.session"}), CheckoutCompleted, false},
		{event("customer.created", map[string]any{"id": "cus_1"}), "", false},
	}
	for _, c := range cases {
		n, ours, err := notificationOf(c.ev)
		if err != nil || ours != c.ours || (c.ours && n.Type != c.typ) {
			t.Errorf("%s: %+v ours=%v %v", c.ev.Type, n, ours, err)
			continue
		}
		if c.ours && (n.Purpose != "top_up" || n.Reference != "t1" || n.OrgID != "o1" || n.TestMode || n.Payment == nil || n.Payment.ID != "pi_1") {
			t.Errorf("%s: %+v", c.ev.Type, n)
		}
	}
	charge := map[string]any{"id": "pi_2", "object": "payment_intent", "metadata": map[string]string{mdPurpose: "session", mdReference: "s1", mdOrg: "o1",
		mdTestMode: "false", mdFlow: "charge"}, "status": "requires_payment_method", "amount": 100, "currency": "usd"}
	if n, ours, _ := notificationOf(event("payment_intent.payment_failed", charge)); !ours || n.Type != PaymentFailed {
		t.Errorf("off-session failure: %+v", n)
	}
}
