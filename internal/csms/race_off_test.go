//go:build !race

package csms_test

const raceEnabled = false
