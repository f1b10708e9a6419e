package sim

import (
	"time"

	"github.com/joule-ev/joule/internal/ocpp16"
)

// Snapshot is a charger's state at one moment.
type Snapshot struct {
	Identity  string
	Connected bool
	// Booted: the central system accepted the BootNotification.
	Booted bool
	// Boots counts accepted BootNotifications (a reset boots again).
	Boots int
	// HeartbeatInterval in force.
	HeartbeatInterval time.Duration
	// Queued is the number of messages waiting to be sent.
	Queued int
	// ConnectTime is from Start to the first accepted boot.
	ConnectTime time.Duration
	// Connectors[0] is the charge point itself, then connectors 1..N.
	Connectors []ConnectorState
}

// ConnectorState is one connector's state.
type ConnectorState struct {
	ID        int
	Status    ocpp16.ChargePointStatus
	Plugged   bool
	Operative bool
	// InTransaction is true from the local start of a transaction to its
	// stop; TransactionID is the central system's id once it has answered
	// StartTransaction (0 before).
	InTransaction bool
	TransactionID int
	IdTag         string
	// MeterWh is the energy register, persistent across transactions.
	MeterWh int64
	PowerW  int
	SoC     int
}

// Connector returns connector n's state (zero value if there is none).
func (s Snapshot) Connector(n int) ConnectorState {
	if n < 0 || n >= len(s.Connectors) {
		return ConnectorState{}
	}
	return s.Connectors[n]
}

func (ch *Charger) snapshotLocked() Snapshot {
	s := Snapshot{
		Identity:          ch.cfg.Identity,
		Connected:         ch.conn != nil,
		Booted:            ch.booted,
		Boots:             ch.boots,
		HeartbeatInterval: ch.hbInterval,
		Queued:            len(ch.queue),
	}
	if !ch.bootedAt.IsZero() {
		s.ConnectTime = ch.bootedAt.Sub(ch.startedAt)
	}
	for _, c := range ch.connectors {
		ch.accrueLocked(c)
		cs := ConnectorState{ID: c.id, Status: c.status, Plugged: c.plugged, Operative: c.operative,
			MeterWh: c.meterWh(), PowerW: ch.powerLocked(c)}
		if c.tx != nil {
			cs.InTransaction, cs.IdTag, cs.SoC = true, c.tx.idTag, ch.socLocked(c)
			if c.tx.confirmed {
				cs.TransactionID = c.tx.id
			}
		}
		s.Connectors = append(s.Connectors, cs)
	}
	return s
}
