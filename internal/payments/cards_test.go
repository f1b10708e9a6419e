package payments

import (
	"testing"
	"time"
)

func TestTestCardsAreValidNumbers(t *testing.T) {
	for number, c := range testCards {
		if !luhn(number) || len(number) < 15 {
			t.Errorf("%s (%s) is not a valid card number", number, c.Brand)
		}
	}
	for token := range testMethods {
		if m, ok := TestMethod(token); !ok || m.Token != token || expired(m.ExpMonth, m.ExpYear, time.Now()) {
			t.Errorf("test method %s: %+v", token, m)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	for in, want := range map[string][2]int{"12/34": {12, 2034}, "01 / 29": {1, 2029}, "0730": {7, 2030}, "11/2031": {11, 2031}, "03-28": {3, 2028}} {
		m, y, err := parseExpiry(in)
		if err != nil || m != want[0] || y != want[1] {
			t.Errorf("%q: %d/%d %v", in, m, y, err)
		}
	}
	for _, in := range []string{"", "1/2", "00/30", "13/30", "ab/cd", "12/3", "12/345"} {
		if _, _, err := parseExpiry(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	may := time.Date(2030, 5, 31, 23, 59, 0, 0, time.UTC)
	if expired(5, 2030, may) || !expired(4, 2030, may) || !expired(5, 2030, may.Add(time.Minute)) {
		t.Error("a card is valid through the last day of its expiry month")
	}
}
