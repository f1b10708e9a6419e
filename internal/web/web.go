// Package web serves Joule's hosted pages: the sandbox provider's card page
// (/pay/{checkout}) with its success, declined, expired and canceled pages,
// the pages Stripe Checkout returns drivers to in live mode (/pay/complete,
// /pay/canceled), and Stripe's webhook endpoint (/webhooks/stripe).
//
// The pages use no scripts and no third-party assets (one embedded style
// sheet), work on a phone, and post forms protected against cross-site
// requests twice: Go's CrossOriginProtection (Sec-Fetch-Site / Origin) and a
// double-submit token bound to a SameSite=Strict cookie. In live mode the
// card form is always Stripe's; Joule's page exists for the sandbox only.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/payments"
	"github.com/joule-ev/joule/internal/store"
)

//go:embed templates/*.html static/pay.css static/icon.svg
var files embed.FS

// Pages is the hosted pages' handler; mount it on /pay/ and /webhooks/stripe.
type Pages struct {
	db     *store.DB
	pay    *payments.Service
	log    *slog.Logger
	mux    *http.ServeMux
	form   *template.Template
	result *template.Template
	assets map[string]asset
}

// asset is an embedded file served under /pay/assets/.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// New builds the handler.
func New(db *store.DB, pay *payments.Service, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.Default()
	}
	p := &Pages{db: db, pay: pay, log: log, mux: http.NewServeMux(), assets: map[string]asset{},
		form:   template.Must(template.ParseFS(files, "templates/layout.html", "templates/pay.html")),
		result: template.Must(template.ParseFS(files, "templates/layout.html", "templates/result.html"))}
	for name, ct := range map[string]string{"pay.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"} {
		body, err := files.ReadFile("static/" + name)
		if err != nil {
			panic("web: embedded asset missing: " + err.Error())
		}
		sum := sha256.Sum256(body)
		p.assets[name] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		// Exact paths: a wildcard here would overlap /pay/{id}/declined.
		p.mux.HandleFunc("GET /pay/assets/"+name, p.asset)
	}
	cop := http.NewCrossOriginProtection()
	p.mux.HandleFunc("GET /pay/complete", p.returned)
	p.mux.HandleFunc("GET /pay/canceled", p.returned)
	p.mux.HandleFunc("GET /pay/{id}", p.page)
	p.mux.HandleFunc("GET /pay/{id}/declined", p.declined)
	p.mux.Handle("POST /pay/{id}", cop.Handler(http.HandlerFunc(p.submit)))
	p.mux.Handle("POST /pay/{id}/cancel", cop.Handler(http.HandlerFunc(p.cancel)))
	p.mux.HandleFunc("/pay/", func(w http.ResponseWriter, r *http.Request) { p.notFound(w) })
	p.mux.HandleFunc("POST /webhooks/stripe", p.stripeWebhook)
	return p
}

// ServeHTTP serves the hosted pages.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func (p *Pages) asset(w http.ResponseWriter, r *http.Request) {
	a := p.assets[path.Base(r.URL.Path)]
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// secureHeaders keep the pages from being framed, leaking the checkout id
// in a Referer, loading anything but their own style sheet, or being cached.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// base is what the layout shows on every page.
type base struct {
	Title    string
	TestMode bool
	Org      string
}

// formPage is the card form.
type formPage struct {
	base
	ID          string
	Description string
	Amount      string
	CSRF        string
	OfferSave   bool
	Save        bool
	Expiry      string // kept after a refused submission; the number and CVC never are
	Name        string
	Error       *payments.CardError
	ExpiresAt   string
	ExpiresISO  string
}

// ErrorOn reports whether the form's error is about field.
func (f formPage) ErrorOn(field string) bool { return f.Error != nil && f.Error.Field == field }

// resultPage is an outcome: success, declined, expired, canceled.
type resultPage struct {
	base
	Kind        string
	Icon        string
	Heading     string
	Amount      string
	Message     string
	Detail      string
	RetryURL    string
	ReturnURL   string
	ReturnLabel string
	CancelID    string
	CSRF        string
}

func (p *Pages) render(w http.ResponseWriter, t *template.Template, status int, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.Error("web: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	secureHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (p *Pages) notFound(w http.ResponseWriter) {
	p.render(w, p.result, http.StatusNotFound, resultPage{base: base{Title: "Page not found"}, Kind: "expired", Icon: "?",
		Heading: "This payment page does not exist", Message: "Check the link you were given, or ask for a new one."})
}

func (p *Pages) internalError(w http.ResponseWriter, err error) {
	p.log.Error("web: hosted page", "err", err)
	p.render(w, p.result, http.StatusInternalServerError, resultPage{base: base{Title: "Something went wrong"}, Kind: "declined", Icon: "!",
		Heading: "Something went wrong", Message: "Nothing was charged. Try again in a moment."})
}

// checkout loads the page's checkout; false means the response is written.
func (p *Pages) checkout(w http.ResponseWriter, r *http.Request) (payments.CheckoutView, base, bool) {
	checkoutID := r.PathValue("id")
	if !payments.IsSandboxCheckout(checkoutID) {
		p.notFound(w)
		return payments.CheckoutView{}, base{}, false
	}
	v, err := p.pay.Sandbox().Checkout(r.Context(), checkoutID)
	if errors.Is(err, payments.ErrNotFound) {
		p.notFound(w)
		return v, base{}, false
	}
	if err != nil {
		p.internalError(w, err)
		return v, base{}, false
	}
	b := base{TestMode: v.TestMode}
	if o, err := org.Get(r.Context(), p.db.Q(), v.OrgID); err == nil {
		b.Org = o.Name
	}
	return v, b, true
}

// page shows the form of an open checkout, or its outcome.
func (p *Pages) page(w http.ResponseWriter, r *http.Request) {
	v, b, ok := p.checkout(w, r)
	if !ok {
		return
	}
	now := time.Now()
	switch {
	case v.Status == payments.PagePaid:
		p.success(w, r, v, b)
	case v.Status == payments.PageCanceled:
		b.Title = "Payment canceled"
		p.render(w, p.result, http.StatusOK, resultPage{base: b, Kind: "canceled", Icon: "×", Heading: "Payment canceled",
			Amount: formatAmount(v.Amount, v.Currency), Message: "No money was taken.", ReturnURL: v.CancelURL, ReturnLabel: "Return"})
	case !v.Payable(now):
		b.Title = "Payment link expired"
		p.render(w, p.result, http.StatusOK, resultPage{base: b, Kind: "expired", Icon: "!", Heading: "This payment link has expired",
			Amount: formatAmount(v.Amount, v.Currency), Message: "No money was taken. Ask for a new payment link to try again.",
			ReturnURL: v.CancelURL, ReturnLabel: "Return"})
	default:
		p.showForm(w, r, v, b, http.StatusOK, formPage{})
	}
}

func (p *Pages) showForm(w http.ResponseWriter, r *http.Request, v payments.CheckoutView, b base, status int, f formPage) {
	description := v.Description
	if description == "" {
		description = "Payment"
	}
	f.base, f.ID, f.Description, f.Amount, f.OfferSave = b, v.ID, description, formatAmount(v.Amount, v.Currency), v.OfferSave
	f.Title = "Pay " + f.Amount + " — " + description
	f.CSRF = csrfToken(w, r)
	exp := v.ExpiresAt.UTC()
	f.ExpiresAt, f.ExpiresISO = exp.Format("15:04 UTC, 2 Jan 2006"), exp.Format(time.RFC3339)
	p.render(w, p.form, status, f)
}

func (p *Pages) success(w http.ResponseWriter, r *http.Request, v payments.CheckoutView, b base) {
	b.Title = "Payment successful"
	rp := resultPage{base: b, Kind: "success", Icon: "✓", Heading: "Payment successful", Amount: formatAmount(v.Amount, v.Currency),
		Message: "Thank you. Your payment was received.", ReturnURL: v.SuccessURL, ReturnLabel: "Return"}
	if v.CaptureMethod == payments.CaptureManual {
		rp.Message = "Thank you. The amount is reserved on your card; you are charged only for what you use."
	}
	if pay, err := p.pay.Sandbox().GetPayment(r.Context(), v.PaymentID); err == nil && pay.Method != nil {
		rp.Detail = "Paid with " + brandName(pay.Method.Brand) + " ending in " + pay.Method.Last4 + "."
	}
	p.render(w, p.result, http.StatusOK, rp)
}

// declined shows why the last attempt failed; the page stays payable.
func (p *Pages) declined(w http.ResponseWriter, r *http.Request) {
	v, b, ok := p.checkout(w, r)
	if !ok {
		return
	}
	if v.Status != payments.PageOpen || v.FailureCode == "" || !v.Payable(time.Now()) {
		http.Redirect(w, r, "/pay/"+v.ID, http.StatusSeeOther)
		return
	}
	b.Title = "Payment declined"
	p.render(w, p.result, http.StatusOK, resultPage{base: b, Kind: "declined", Icon: "!", Heading: "Payment declined",
		Amount: formatAmount(v.Amount, v.Currency), Message: v.FailureMessage, Detail: "No money was taken. You can try another card.",
		RetryURL: "/pay/" + v.ID, CancelID: v.ID, CSRF: csrfToken(w, r)})
}

func (p *Pages) submit(w http.ResponseWriter, r *http.Request) {
	v, b, ok := p.checkout(w, r)
	if !ok {
		return
	}
	if !validCSRF(r) {
		p.staleForm(w, v, b)
		return
	}
	card := payments.Card{Number: r.PostFormValue("number"), Expiry: r.PostFormValue("expiry"), CVC: r.PostFormValue("cvc"), Name: r.PostFormValue("name")}
	save := r.PostFormValue("save") == "1"
	v, cerr, err := p.pay.Sandbox().Pay(r.Context(), v.ID, card, save)
	if err != nil {
		p.internalError(w, err)
		return
	}
	if cerr != nil {
		p.showForm(w, r, v, b, http.StatusUnprocessableEntity, formPage{Error: cerr, Expiry: limit(card.Expiry, 9), Name: limit(card.Name, 100), Save: save})
		return
	}
	// Post/Redirect/Get: reloading an outcome page never pays twice.
	if v.Status == payments.PageOpen && v.FailureCode != "" {
		http.Redirect(w, r, "/pay/"+v.ID+"/declined", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/pay/"+v.ID, http.StatusSeeOther)
}

func (p *Pages) cancel(w http.ResponseWriter, r *http.Request) {
	v, b, ok := p.checkout(w, r)
	if !ok {
		return
	}
	if !validCSRF(r) {
		p.staleForm(w, v, b)
		return
	}
	if _, err := p.pay.Sandbox().CancelCheckout(r.Context(), v.ID); err != nil {
		p.internalError(w, err)
		return
	}
	http.Redirect(w, r, "/pay/"+v.ID, http.StatusSeeOther)
}

// staleForm answers a post without a matching token (a forged request, or a
// form older than the browser's cookie).
func (p *Pages) staleForm(w http.ResponseWriter, v payments.CheckoutView, b base) {
	b.Title = "Reload the page"
	p.render(w, p.result, http.StatusForbidden, resultPage{base: b, Kind: "declined", Icon: "!", Heading: "This form has expired",
		Message: "Nothing was charged. Reload the payment page and try again.", ReturnURL: "/pay/" + v.ID, ReturnLabel: "Reload the payment page"})
}

// returned is where Stripe Checkout sends a driver back in live mode.
func (p *Pages) returned(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/complete") {
		p.render(w, p.result, http.StatusOK, resultPage{base: base{Title: "Payment received"}, Kind: "success", Icon: "✓",
			Heading: "Payment received", Message: "Thank you. You can close this page and return to the app."})
		return
	}
	p.render(w, p.result, http.StatusOK, resultPage{base: base{Title: "Payment canceled"}, Kind: "canceled", Icon: "×",
		Heading: "Payment canceled", Message: "No money was taken. You can close this page and return to the app."})
}

// stripeWebhook receives Stripe's events: 400 for a bad signature (Stripe
// shows it in the dashboard), 500 on our failure (Stripe retries), 200 once
// the event is recorded (or was already).
func (p *Pages) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	st := p.pay.Stripe()
	if st == nil {
		http.NotFound(w, r)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	err = st.HandleWebhook(r.Context(), payload, r.Header.Get("Stripe-Signature"))
	switch {
	case errors.Is(err, payments.ErrBadSignature):
		p.log.Warn("web: Stripe webhook refused", "err", err)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid signature"}`))
	case err != nil:
		p.log.Error("web: Stripe webhook", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"internal error"}`))
	default:
		_, _ = w.Write([]byte(`{"received":true}`))
	}
}

const csrfCookie = "joule_pay_csrf"

// csrfToken returns the browser's token, setting a new one if it has none.
// SameSite=Strict keeps other sites' requests from carrying it.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("web: no randomness: " + err.Error())
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/pay/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
	return tok
}

func validCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	form := r.PostFormValue("csrf")
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) == 1
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func brandName(b string) string {
	switch b {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "discover":
		return "Discover"
	}
	return "card"
}

// zeroDecimal are currencies whose minor unit is the unit.
var zeroDecimal = map[string]bool{"JPY": true, "KRW": true, "VND": true, "CLP": true, "ISK": true, "UGX": true, "XAF": true, "XOF": true}

var symbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

// formatAmount shows cents the way a driver reads money: $1,234.50, 12.00 CHF.
func formatAmount(cents int64, currency string) string {
	units, frac := cents, ""
	if !zeroDecimal[currency] {
		units, frac = cents/100, "."+leftPad(strconv.FormatInt(cents%100, 10))
	}
	s := strconv.FormatInt(units, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if sym, ok := symbols[currency]; ok {
		return sym + s + frac
	}
	return s + frac + " " + currency
}

func leftPad(s string) string {
	if len(s) < 2 {
		return "0" + s
	}
	return s
}
