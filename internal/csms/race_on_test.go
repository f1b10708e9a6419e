//go:build race

package csms_test

// raceEnabled scales the load test down: under the race detector the point
// is finding races, not throughput.
const raceEnabled = true
