package session

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/shopspring/decimal"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Receipts are PDFs rendered from the CDR, reached through signed URLs that
// expire: an app can hand the link to a driver without an API key.

const receiptTTL = 15 * time.Minute

// receiptSigner holds the installation's signing key (made once, kept in
// the settings table so that links survive restarts).
type receiptSigner struct {
	db   *store.DB
	once sync.Once
	key  []byte
	err  error
}

func (r *receiptSigner) load(ctx context.Context) ([]byte, error) {
	r.once.Do(func() {
		var b [32]byte
		_, _ = rand.Read(b[:])
		r.err = r.db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('receipt_key', $1) ON CONFLICT (name) DO NOTHING`,
				hex.EncodeToString(b[:])); err != nil {
				return err
			}
			var v string
			if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'receipt_key'`).Scan(&v); err != nil {
				return err
			}
			r.key, r.err = hex.DecodeString(v)
			return r.err
		})
	})
	return r.key, r.err
}

func (r *receiptSigner) sign(key []byte, sessionID string, exp int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "receipt:%s:%d", sessionID, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// Receipt is a signed link to a session's PDF receipt.
type Receipt struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ReceiptURL returns a signed, expiring link to the receipt of a priced session.
func (s *Service) ReceiptURL(ctx context.Context, p org.Principal, sessionID string) (Receipt, error) {
	if _, err := GetCDR(ctx, s.db.Q(), p, sessionID); err != nil {
		if apperr.Is(err, "cdr_not_found") {
			return Receipt{}, apperr.Newf(apperr.Conflict, "receipt_not_available", "Session %s is not priced yet; its receipt is available once it has ended", sessionID)
		}
		return Receipt{}, err
	}
	key, err := s.receipts.load(ctx)
	if err != nil {
		return Receipt{}, err
	}
	exp := time.Now().Add(receiptTTL).Unix()
	return Receipt{URL: fmt.Sprintf("%s/receipts/%s.pdf?expires=%d&signature=%s", s.baseURL, sessionID, exp, s.receipts.sign(key, sessionID, exp)),
		ExpiresAt: time.Unix(exp, 0).UTC()}, nil
}

// ErrBadReceiptLink is returned for a forged or expired link.
var ErrBadReceiptLink = errors.New("session: receipt link invalid or expired")

// ReceiptPDF renders the receipt behind a signed link.
func (s *Service) ReceiptPDF(ctx context.Context, sessionID, expires, signature string) ([]byte, error) {
	key, err := s.receipts.load(ctx)
	if err != nil {
		return nil, err
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || time.Now().Unix() > exp || !hmac.Equal([]byte(signature), []byte(s.receipts.sign(key, sessionID, exp))) {
		return nil, ErrBadReceiptLink
	}
	var body string
	err = s.db.Q().QueryRowContext(ctx, `SELECT body FROM cdrs WHERE session_id = $1`, sessionID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBadReceiptLink
	}
	if err != nil {
		return nil, err
	}
	var cdr CDR
	if err := json.Unmarshal([]byte(body), &cdr); err != nil {
		return nil, fmt.Errorf("session: receipt CDR: %w", err)
	}
	return renderReceipt(cdr)
}

func renderReceipt(c CDR) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetTitle("Charging receipt "+c.SessionID, true)
	pdf.AddPage()
	pdf.SetFont("go", "B", 18)
	pdf.Cell(0, 10, "Charging receipt")
	pdf.Ln(12)
	pdf.SetFont("go", "", 10)
	line := func(k, v string) {
		pdf.SetFont("go", "B", 10)
		pdf.CellFormat(45, 6, k, "", 0, "L", false, 0, "")
		pdf.SetFont("go", "", 10)
		pdf.CellFormat(0, 6, v, "", 1, "L", false, 0, "")
	}
	line("Session", c.SessionID)
	line("Receipt", c.ID)
	line("Location", c.CdrLocation.Name+", "+c.CdrLocation.Address+", "+c.CdrLocation.City)
	line("Charger (EVSE)", c.CdrLocation.EvseID)
	line("Start", c.StartDateTime.UTC().Format("2006-01-02 15:04:05 MST"))
	line("End", c.EndDateTime.UTC().Format("2006-01-02 15:04:05 MST"))
	line("Energy", string(c.TotalEnergy)+" kWh")
	pdf.Ln(4)
	pdf.SetFont("go", "B", 9)
	cols := []struct {
		h string
		w float64
	}{{"Item", 38}, {"Quantity", 28}, {"Unit price", 26}, {"Excl. VAT", 26}, {"VAT", 22}, {"VAT amount", 24}, {"Total", 26}}
	for _, col := range cols {
		pdf.CellFormat(col.w, 7, col.h, "B", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("go", "", 9)
	for _, b := range c.Breakdown {
		item := b.Type
		if item == "" {
			item = b.Kind
		} else if b.Kind != "usage" {
			item += " (" + b.Kind + ")"
		}
		vat := ""
		if b.VAT != "" {
			vat = b.VAT + " %"
		}
		for i, v := range []string{item, trim(b.Quantity) + " " + b.Unit, trim(b.UnitPrice), money(b.ExclVAT), vat, money(b.VATAmount), money(b.InclVAT)} {
			pdf.CellFormat(cols[i].w, 6, v, "", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.Ln(4)
	pdf.SetFont("go", "B", 11)
	line("Total excl. VAT", money(string(c.TotalCost.ExclVAT))+" "+c.Currency)
	line("Total incl. VAT", money(string(c.TotalCost.InclVAT))+" "+c.Currency)
	line("Charged", fmt.Sprintf("%d.%02d %s", c.AmountMinor/100, c.AmountMinor%100, c.Currency))
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("session: render receipt: %w", err)
	}
	return buf.Bytes(), nil
}

func trim(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// money shows an exact decimal with two places (the charged amount is the
// rounded total; lines keep their exact values in the CDR).
func money(s string) string {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return s
	}
	return d.StringFixed(2)
}
