package sim

import (
	"fmt"
	"strings"
)

// Behavior scripts how a simulated charger deviates from a normal one. The
// four error chargers of the sandbox (spec 003) are start_hangs,
// stop_ignored, start_fails and stop_fails.
type Behavior string

const (
	// BehaviorNormal does what a well-behaved charger does.
	BehaviorNormal Behavior = "normal"
	// BehaviorStartHangs accepts RemoteStartTransaction, goes Preparing and
	// never sends StartTransaction: the session hangs in WAITING_TO_START.
	BehaviorStartHangs Behavior = "start_hangs"
	// BehaviorStartFails rejects RemoteStartTransaction.
	BehaviorStartFails Behavior = "start_fails"
	// BehaviorStopIgnored rejects RemoteStopTransaction and keeps charging.
	BehaviorStopIgnored Behavior = "stop_ignored"
	// BehaviorStopFails accepts RemoteStopTransaction but never stops and
	// never sends StopTransaction; it keeps charging and metering, so the
	// central system has to time out (STOP_FAILED). A local stop or unplug
	// still ends the transaction.
	BehaviorStopFails Behavior = "stop_fails"
	// BehaviorUnplugAfter has the driver unplug ChargerConfig.After into
	// each transaction: StopTransaction with reason EVDisconnected.
	BehaviorUnplugAfter Behavior = "unplug_after"
	// BehaviorOffline loses the connection ChargerConfig.After into each
	// transaction, stays away for ChargerConfig.OfflineFor while charging
	// and queueing its transaction messages, then reconnects and delivers
	// them in order with their original timestamps.
	BehaviorOffline Behavior = "offline"
	// BehaviorReconnect drops its socket ChargerConfig.After after booting
	// and reconnects at once with the same identity, without a new boot.
	BehaviorReconnect Behavior = "reconnect"
)

// Behaviors lists every behaviour.
var Behaviors = []Behavior{BehaviorNormal, BehaviorStartHangs, BehaviorStartFails, BehaviorStopIgnored,
	BehaviorStopFails, BehaviorUnplugAfter, BehaviorOffline, BehaviorReconnect}

// ParseBehavior accepts a behaviour's name (case-insensitive, '-' for '_').
func ParseBehavior(s string) (Behavior, error) {
	b := Behavior(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	for _, known := range Behaviors {
		if b == known {
			return b, nil
		}
	}
	return "", fmt.Errorf("sim: unknown behavior %q (want one of %v)", s, Behaviors)
}
