package driveapi

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/joule-ev/joule/internal/events"
	"github.com/joule-ev/joule/internal/session"
)

func TestStatusMapping(t *testing.T) {
	// DESIGN §5, every platform status.
	want := map[string]string{
		session.StatusCreated: "CREATED", session.StatusWaitingToStart: "WAITING_TO_START", session.StatusStarted: "STARTED",
		session.StatusPaused: "STARTED", session.StatusWaitingToStop: "WAITING_TO_STOP", session.StatusStopFailed: "STOP_FAILED",
		session.StatusEnded: "STOPPED", session.StatusCompleted: "COMPLETE", session.StatusFailed: "FAILED",
		session.StatusCanceled: "FAILED", session.StatusRefunded: "REFUNDED",
	}
	for p, d := range want {
		if got := StatusOf(p); got != d {
			t.Errorf("StatusOf(%s) = %s, want %s", p, got, d)
		}
	}
	if len(statusMap) != len(want) {
		t.Errorf("statusMap has %d entries, want %d", len(statusMap), len(want))
	}
	// A status this version does not know is UNKNOWN (clients treat it as FAILED).
	if got := StatusOf("hibernating"); got != StatusUnknown {
		t.Errorf("unknown platform status: %s", got)
	}
	got := platformStatuses(StatusFailed)
	slices.Sort(got)
	if !slices.Equal(got, []string{session.StatusCanceled, session.StatusFailed}) {
		t.Errorf("FAILED stands for %v", got)
	}
	if got := platformStatuses(StatusStarted); len(got) != 2 {
		t.Errorf("STARTED stands for %v", got)
	}
}

func TestISODuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "PT0S",
		-time.Second:             "PT0S",
		21379 * time.Millisecond: "PT21.379S",
		15 * time.Minute:         "PT15M",
		12333 * time.Millisecond: "PT12.333S",
		time.Hour + 2*time.Minute + 3500*time.Millisecond: "PT1H2M3.5S",
		26 * time.Hour:                  "PT26H",
		1500 * time.Microsecond:         "PT0.002S",
		90 * time.Second:                "PT1M30S",
		time.Hour + 40*time.Millisecond: "PT1H0.04S",
	} {
		if got := isoDuration(d); got != want {
			t.Errorf("isoDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestPriceOf(t *testing.T) {
	amount := int64(183)
	p, err := priceOf(session.Cost{Amount: &amount, Currency: "nok", ExclVAT: "1.4650", InclVAT: "1.8313",
		Breakdown: []session.BreakdownLine{{VAT: "25"}, {VAT: "25.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	// 146.5 cents rounds half away from zero to 147.
	if *p != (Price{CurrencyCode: "NOK", MinorExclVat: 147, MinorInclVat: 183, Vat: "25"}) {
		t.Errorf("price %+v", *p)
	}
	// Lines with different rates: the effective rate.
	amount = 1150
	p, _ = priceOf(session.Cost{Amount: &amount, Currency: "EUR", ExclVAT: "10.0000", InclVAT: "11.5000",
		Breakdown: []session.BreakdownLine{{VAT: "10"}, {VAT: "20"}}})
	if p.Vat != "15" || p.MinorExclVat != 1000 {
		t.Errorf("mixed rates %+v", *p)
	}
	// No VAT in the tariff.
	amount = 0
	p, _ = priceOf(session.Cost{Amount: &amount, Currency: "USD", ExclVAT: "0.0000", InclVAT: "0.0000", Breakdown: []session.BreakdownLine{{}}})
	if p.Vat != "0" || p.MinorInclVat != 0 {
		t.Errorf("no VAT %+v", *p)
	}
	if p, _ := priceOf(session.Cost{}); p != nil {
		t.Errorf("a session that has not started has a price: %+v", p)
	}
}

func TestEventName(t *testing.T) {
	started := time.Now()
	data := func(startedAt *time.Time) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"_id": "s1", "user": "u1", "startedAt": startedAt})
		return b
	}
	for _, c := range []struct {
		typ     string
		started bool
		want    string
	}{
		{"session.started", true, EventSessionStarted},
		{"session.failed", false, EventSessionStartFailed},
		{"session.canceled", false, EventSessionStartFailed},
		{"session.canceled", true, ""}, // it did start: its end is told by SESSION_STOPPED
		{"session.ended", true, EventSessionStopped},
		{"session.stop_failed", true, EventSessionStopFailed},
		{"session.completed", true, EventSessionComplete},
		{"session.fee_incurring", true, EventSessionFeeIncurring},
		{"session.updated", true, ""},
		{"session.created", false, ""},
		{"session.payment.captured", true, ""},
		{"wallet.updated", false, ""},
	} {
		var at *time.Time
		if c.started {
			at = &started
		}
		if got := EventName(events.Event{Type: c.typ, Data: data(at)}); got != c.want {
			t.Errorf("%s (started %v): %q, want %q", c.typ, c.started, got, c.want)
		}
	}
}
