package driveapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/joule-ev/joule/internal/network"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/session"
	"github.com/joule-ev/joule/internal/store"
)

// Drive session statuses (spec 003). Clients must accept values not listed
// here and treat them as FAILED: the spec reserves the right to add some.
const (
	StatusCreated        = "CREATED"
	StatusWaitingToStart = "WAITING_TO_START"
	StatusStarted        = "STARTED"
	StatusWaitingToStop  = "WAITING_TO_STOP"
	StatusStopFailed     = "STOP_FAILED"
	StatusStopped        = "STOPPED"
	StatusComplete       = "COMPLETE"
	StatusFailed         = "FAILED"
	StatusRefunded       = "REFUNDED"
	// StatusUnknown is what a platform status this version does not map
	// becomes; the spec tells clients to treat it as FAILED.
	StatusUnknown = "UNKNOWN"
)

// statusMap is DESIGN §5's mapping of platform statuses to Drive statuses.
// paused is STARTED (the session is still ongoing; spec 003 has no pause),
// canceled is FAILED (a session given up before it started).
var statusMap = map[string]string{
	session.StatusCreated:        StatusCreated,
	session.StatusWaitingToStart: StatusWaitingToStart,
	session.StatusStarted:        StatusStarted,
	session.StatusPaused:         StatusStarted,
	session.StatusWaitingToStop:  StatusWaitingToStop,
	session.StatusStopFailed:     StatusStopFailed,
	session.StatusEnded:          StatusStopped,
	session.StatusCompleted:      StatusComplete,
	session.StatusFailed:         StatusFailed,
	session.StatusCanceled:       StatusFailed,
	session.StatusRefunded:       StatusRefunded,
}

// StatusOf maps a platform session status to the Drive vocabulary. A status
// added to the platform without a mapping here shows as UNKNOWN, which the
// spec's clients treat as FAILED, rather than as a value they cannot parse.
func StatusOf(platform string) string {
	if s, ok := statusMap[platform]; ok {
		return s
	}
	return StatusUnknown
}

// platformStatuses lists the platform statuses a Drive status stands for
// (the reverse of statusMap), for the history filter.
func platformStatuses(drive string) []string {
	var out []string
	for p, d := range statusMap {
		if d == drive {
			out = append(out, p)
		}
	}
	return out
}

// Charger names where the session is.
type Charger struct {
	ChargingStationName string `json:"chargingStationName"`
	ConnectorLabel      string `json:"connectorLabel" doc:"The connector's number on its charging station"`
	EvseID              string `json:"evseId"`
	City                string `json:"city,omitempty"`
	StreetName          string `json:"streetName,omitempty"`
}

// Energy is the energy delivered.
type Energy struct {
	Unit  string `json:"unit" doc:"Always WH"`
	Value int64  `json:"value"`
}

// Price is the session's price in minor units (cents).
type Price struct {
	CurrencyCode string `json:"currencyCode" doc:"ISO 4217"`
	MinorExclVat int64  `json:"minorExclVat" doc:"Total excluding VAT, in minor units, rounded half away from zero"`
	MinorInclVat int64  `json:"minorInclVat" doc:"Total including VAT, in minor units: the amount charged"`
	Vat          string `json:"vat" doc:"VAT rate in percent, e.g. \"25\" (the tariff's rate; the effective rate, to 2 decimals, when lines differ)"`
}

// Session is a session as the Drive API shows it (spec 003 "Get session by id").
type Session struct {
	SessionID     string `json:"sessionId"`
	SessionStatus string `json:"sessionStatus" doc:"CREATED, WAITING_TO_START, STARTED, WAITING_TO_STOP, STOP_FAILED, STOPPED, COMPLETE, FAILED, REFUNDED or UNKNOWN. New values may be added: treat a value you do not know as FAILED."`
	BalanceStatus string `json:"balanceStatus,omitempty" doc:"Present once the session is COMPLETE (or REFUNDED): PROCESSING, PAID, DEBT or REFUND"`
	// BalanceAmountMinor is the amount balanceStatus speaks of.
	BalanceAmountMinor *int64     `json:"balanceAmountMinor,omitempty" doc:"With balanceStatus: the amount paid (PAID), owed (DEBT), refunded (REFUND) or being charged (PROCESSING), in minor units"`
	Charger            Charger    `json:"charger"`
	ConnectorID        string     `json:"connectorId"`
	Duration           string     `json:"duration,omitempty" doc:"ISO 8601 duration since charging started (e.g. PT21.379S, PT15M); absent until it starts"`
	Energy             *Energy    `json:"energy,omitempty" doc:"Energy delivered (so far, while running); absent until it starts"`
	Price              *Price     `json:"price,omitempty" doc:"The price (so far, while running; final once STOPPED); absent until it starts"`
	ReceiptAvailable   bool       `json:"receiptAvailable" doc:"true once the session is priced: GET .../receipt returns a link to the PDF"`
	Site               string     `json:"site" doc:"The location's name"`
	StartTime          time.Time  `json:"startTime" doc:"When charging started; for a session that has not started, when it was requested"`
	EndTime            *time.Time `json:"endTime,omitempty" doc:"When charging ended"`
	ChargingKeyType    string     `json:"chargingKeyType" doc:"virtual for sessions started remotely (through the API), rfid for sessions started at the charger with a key"`
	FailureReason      string     `json:"failureReason,omitempty" doc:"Why the session failed, or why its last stop failed"`
	UserID             string     `json:"userId" doc:"The app's user id"`
}

// viewer builds session views, remembering the connectors, stations and
// locations it has read (a history page names few of them).
type viewer struct {
	q       store.Querier
	p       org.Principal
	userID  string // the app's id of the sessions' user
	charger map[string]chargerInfo
}

type chargerInfo struct {
	charger Charger
	site    string
}

func newViewer(q store.Querier, p org.Principal, externalUserID string) *viewer {
	return &viewer{q: q, p: p, userID: externalUserID, charger: map[string]chargerInfo{}}
}

func (v *viewer) chargerOf(ctx context.Context, connectorID string) (chargerInfo, error) {
	if c, ok := v.charger[connectorID]; ok {
		return c, nil
	}
	conn, err := network.GetConnector(ctx, v.q, v.p, connectorID)
	if err != nil {
		return chargerInfo{}, err
	}
	st, err := network.GetStation(ctx, v.q, v.p, conn.Chargestation)
	if err != nil {
		return chargerInfo{}, err
	}
	loc, err := network.GetLocation(ctx, v.q, v.p, st.Location)
	if err != nil {
		return chargerInfo{}, err
	}
	c := chargerInfo{charger: Charger{ChargingStationName: st.Name, ConnectorLabel: strconv.Itoa(conn.ConnectorNumber), EvseID: conn.EvseID,
		City: loc.Address.City, StreetName: loc.Address.StreetAndNumber}, site: loc.Name}
	v.charger[connectorID] = c
	return c, nil
}

// view renders a session; now is the time a running session's duration is
// measured to.
func (v *viewer) view(ctx context.Context, x *session.Session, now time.Time) (Session, error) {
	c, err := v.chargerOf(ctx, x.Connector)
	if err != nil {
		return Session{}, err
	}
	out := Session{SessionID: x.ID, SessionStatus: StatusOf(x.Status), Charger: c.charger, ConnectorID: x.Connector, Site: c.site,
		StartTime: x.CreatedAt, EndTime: x.EndedAt, ReceiptAvailable: x.EndedAt != nil, ChargingKeyType: x.ChargingKeyType,
		FailureReason: x.FailureReason, UserID: v.userID}
	if x.StartedAt != nil {
		out.StartTime = *x.StartedAt
		end := now
		if x.EndedAt != nil {
			end = *x.EndedAt
		}
		out.Duration = isoDuration(end.Sub(*x.StartedAt))
		out.Energy = &Energy{Unit: "WH", Value: x.Energy.Wh}
		if out.Price, err = priceOf(x.Cost); err != nil {
			return Session{}, fmt.Errorf("driveapi: price of %s: %w", x.ID, err)
		}
	}
	if out.SessionStatus == StatusComplete || out.SessionStatus == StatusRefunded {
		out.BalanceStatus = x.BalanceStatus
		out.BalanceAmountMinor = balanceAmount(x)
	}
	return out, nil
}

// balanceAmount is the amount the balance status speaks of.
func balanceAmount(x *session.Session) *int64 {
	cost := int64(0)
	if x.Cost.Amount != nil {
		cost = *x.Cost.Amount
	}
	var n int64
	pay := x.Payment
	switch {
	case pay == nil:
		n = cost
	case x.BalanceStatus == "PAID":
		n = pay.CapturedAmount
	case x.BalanceStatus == "DEBT":
		n = max(cost-pay.CapturedAmount, 0)
	case x.BalanceStatus == "REFUND":
		n = pay.RefundedAmount
	default:
		n = cost
	}
	return &n
}

// priceOf renders the session's cost as the Drive API's price. The session
// keeps exact decimals; minor units round half away from zero, as the
// amount charged does (DESIGN §2.4).
func priceOf(c session.Cost) (*Price, error) {
	if c.Amount == nil {
		return nil, nil
	}
	p := &Price{CurrencyCode: strings.ToUpper(c.Currency), MinorInclVat: *c.Amount, Vat: "0"}
	excl, err := decimal.NewFromString(orZero(c.ExclVAT))
	if err != nil {
		return nil, err
	}
	incl, err := decimal.NewFromString(orZero(c.InclVAT))
	if err != nil {
		return nil, err
	}
	p.MinorExclVat = excl.Shift(2).Round(0).IntPart()
	rates := map[string]bool{}
	for _, l := range c.Breakdown {
		if l.VAT == "" {
			rates["0"] = true
			continue
		}
		r, err := decimal.NewFromString(l.VAT)
		if err != nil {
			return nil, err
		}
		rates[r.String()] = true
	}
	switch {
	case len(rates) == 1:
		for r := range rates {
			p.Vat = r
		}
	case len(rates) > 1 && excl.IsPositive():
		p.Vat = incl.Sub(excl).Div(excl).Shift(2).Round(2).String()
	}
	return p, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// isoDuration writes d as an ISO 8601 duration to the millisecond, the way
// spec 003 shows them: PT21.379S, PT15M, PT1H2M3.5S, PT0S.
func isoDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := d.Round(time.Millisecond).Milliseconds()
	h, ms := ms/3600000, ms%3600000
	m, ms := ms/60000, ms%60000
	s, ms := ms/1000, ms%1000
	var b strings.Builder
	b.WriteString("PT")
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s > 0 || ms > 0 || (h == 0 && m == 0) {
		if ms > 0 {
			frac := strings.TrimRight(fmt.Sprintf("%03d", ms), "0")
			fmt.Fprintf(&b, "%d.%sS", s, frac)
		} else {
			fmt.Fprintf(&b, "%dS", s)
		}
	}
	return b.String()
}
