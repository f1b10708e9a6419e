package id

import (
	"testing"
	"time"
)

func TestNewShapeAndOrder(t *testing.T) {
	prev := ""
	for i := 0; i < 1000; i++ {
		s := New()
		if !Valid(s) {
			t.Fatalf("invalid id %q", s)
		}
		if s <= prev {
			t.Fatalf("ids not increasing: %q then %q", prev, s)
		}
		prev = s
	}
	at := time.Date(2023, 2, 3, 11, 42, 38, 0, time.UTC)
	if got := Time(NewAt(at)); !got.Equal(at) {
		t.Fatalf("Time = %v, want %v", got, at)
	}
	for _, bad := range []string{"", "63dcf32e7d291b1b005284a", "63DCF32E7D291B1B005284AC", "63dcf32e7d291b1b005284ag"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
