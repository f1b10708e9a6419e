package payments

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Failure codes, as Stripe names them, so that an app handles the sandbox's
// declines exactly as it will handle live ones.
const (
	CodeCardDeclined      = "card_declined"
	CodeInsufficientFunds = "insufficient_funds"
	CodeExpiredCard       = "expired_card"
	CodeIncorrectCVC      = "incorrect_cvc"
	CodeLostCard          = "lost_card"
	CodeStolenCard        = "stolen_card"
	CodeProcessingError   = "processing_error"
	CodeIncorrectNumber   = "incorrect_number"
	CodeInvalidExpiry     = "invalid_expiry"
	CodeInvalidCVC        = "invalid_cvc"
	CodeLiveCardInTest    = "test_mode_live_card"
)

// declineMessages are what a driver reads for each failure code.
var declineMessages = map[string]string{
	CodeCardDeclined:      "Your card was declined.",
	CodeInsufficientFunds: "Your card has insufficient funds.",
	CodeExpiredCard:       "Your card has expired.",
	CodeIncorrectCVC:      "Your card's security code is incorrect.",
	CodeLostCard:          "Your card was declined.",
	CodeStolenCard:        "Your card was declined.",
	CodeProcessingError:   "An error occurred while processing your card. Try again in a little bit.",
}

// DeclineMessage is the driver-facing text of a failure code.
func DeclineMessage(code string) string {
	if m, ok := declineMessages[code]; ok {
		return m
	}
	return "Your card was declined."
}

// testCard is how the sandbox treats one of Stripe's public test numbers:
// Decline is "" for a card that pays, else the failure code it produces.
type testCard struct {
	Brand   string
	Decline string
}

// testCards are Stripe's published test card numbers
// (docs.stripe.com/testing). Any other number is refused: the sandbox never
// accepts a real card, so no real card number is ever typed into it.
var testCards = map[string]testCard{
	"4242424242424242": {"visa", ""},
	"4000056655665556": {"visa", ""},
	"5555555555554444": {"mastercard", ""},
	"2223003122003222": {"mastercard", ""},
	"5200828282828210": {"mastercard", ""},
	"378282246310005":  {"amex", ""},
	"371449635398431":  {"amex", ""},
	"6011111111111117": {"discover", ""},
	"4000000000000002": {"visa", CodeCardDeclined},
	"4000000000009995": {"visa", CodeInsufficientFunds},
	"4000000000009987": {"visa", CodeLostCard},
	"4000000000009979": {"visa", CodeStolenCard},
	"4000000000000069": {"visa", CodeExpiredCard},
	"4000000000000127": {"visa", CodeIncorrectCVC},
	"4000000000000119": {"visa", CodeProcessingError},
}

// Test payment method tokens usable off-session in test mode, named as
// Stripe names them. TestMethodVisa is what a test-mode user without a saved
// method is charged to (DESIGN §6).
const (
	TestMethodVisa                = "pm_card_visa"
	TestMethodMastercard          = "pm_card_mastercard"
	TestMethodDeclined            = "pm_card_chargeDeclined"
	TestMethodInsufficientFunds   = "pm_card_chargeDeclinedInsufficientFunds"
	TestMethodExpiredCardDeclined = "pm_card_chargeDeclinedExpiredCard"
)

// testMethods are the display data and behaviour of the test tokens.
var testMethods = map[string]struct {
	Method
	Decline string
}{
	TestMethodVisa:                {Method{Token: TestMethodVisa, Brand: "visa", Last4: "4242"}, ""},
	TestMethodMastercard:          {Method{Token: TestMethodMastercard, Brand: "mastercard", Last4: "4444"}, ""},
	TestMethodDeclined:            {Method{Token: TestMethodDeclined, Brand: "visa", Last4: "0002"}, CodeCardDeclined},
	TestMethodInsufficientFunds:   {Method{Token: TestMethodInsufficientFunds, Brand: "visa", Last4: "9995"}, CodeInsufficientFunds},
	TestMethodExpiredCardDeclined: {Method{Token: TestMethodExpiredCardDeclined, Brand: "visa", Last4: "0069"}, CodeExpiredCard},
}

// TestMethod returns the display data of a test token (pm_card_visa, ...).
// Test tokens are valid in test mode only; their cards expire at the end of
// next year, so they never expire under a running test.
func TestMethod(token string) (Method, bool) {
	m, ok := testMethods[token]
	if !ok {
		return Method{}, false
	}
	m.ExpMonth, m.ExpYear = 12, time.Now().UTC().Year()+1
	return m.Method, true
}

// CardError is a card form input the sandbox refuses before any payment is
// attempted (the checks Stripe's own form makes in the browser).
type CardError struct {
	Field   string // number | expiry | cvc
	Code    string // incorrect_number | invalid_expiry | expired_card | invalid_cvc | test_mode_live_card
	Message string
}

func (e *CardError) Error() string { return e.Field + ": " + e.Message }

// Card is a card as typed on the hosted page. It lives only for the request
// that carries it: Number and CVC are never stored or logged.
type Card struct {
	Number string
	Expiry string // MM/YY, MM / YY, MMYY or MM/YYYY
	CVC    string
	Name   string
}

// checkedCard is a card that passed the form checks.
type checkedCard struct {
	testCard
	Last4    string
	ExpMonth int
	ExpYear  int
}

// check validates a typed card at time now: digits and Luhn, a known test
// number, an expiry that has not passed, a CVC of the right length.
func (c Card) check(now time.Time) (checkedCard, *CardError) {
	number := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, c.Number)
	if len(number) < 12 || len(number) > 19 || !allDigits(number) || !luhn(number) {
		return checkedCard{}, &CardError{"number", CodeIncorrectNumber, "Your card number is incorrect."}
	}
	tc, ok := testCards[number]
	if !ok {
		return checkedCard{}, &CardError{"number", CodeLiveCardInTest,
			"This is a test payment page: use a test card such as 4242 4242 4242 4242. Real cards are never accepted here."}
	}
	month, year, err := parseExpiry(c.Expiry)
	if err != nil {
		return checkedCard{}, &CardError{"expiry", CodeInvalidExpiry, "Enter the expiry date as MM / YY."}
	}
	if expired(month, year, now) {
		return checkedCard{}, &CardError{"expiry", CodeExpiredCard, "Your card's expiration date is in the past."}
	}
	wantCVC := 3
	if tc.Brand == "amex" {
		wantCVC = 4
	}
	if cvc := strings.TrimSpace(c.CVC); len(cvc) != wantCVC || !allDigits(cvc) {
		return checkedCard{}, &CardError{"cvc", CodeInvalidCVC, fmt.Sprintf("Your card's security code is %d digits.", wantCVC)}
	}
	return checkedCard{testCard: tc, Last4: number[len(number)-4:], ExpMonth: month, ExpYear: year}, nil
}

// parseExpiry reads MM/YY, MM / YY, MM-YY, MMYY or MM/YYYY.
func parseExpiry(s string) (month, year int, err error) {
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' || r == '-' {
			return -1
		}
		return r
	}, s)
	if !allDigits(digits) || (len(digits) != 4 && len(digits) != 6) {
		return 0, 0, fmt.Errorf("expiry %q is not MM/YY", s)
	}
	month, _ = strconv.Atoi(digits[:2])
	year, _ = strconv.Atoi(digits[2:])
	if len(digits) == 4 {
		year += 2000
	}
	if month < 1 || month > 12 {
		return 0, 0, fmt.Errorf("expiry month %d out of range", month)
	}
	return month, year, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// luhn checks a card number's check digit.
func luhn(number string) bool {
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// expired reports whether a card with this expiry can no longer pay at now:
// a card is valid through the last day of its expiry month.
func expired(month, year int, now time.Time) bool {
	return !now.Before(time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC))
}
