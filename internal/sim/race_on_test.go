//go:build race

package sim

// raceEnabled scales load tests down: the race detector slows everything
// tenfold, and the point of a race run is finding races, not throughput.
const raceEnabled = true
