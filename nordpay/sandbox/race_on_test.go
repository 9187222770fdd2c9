//go:build race

package sandbox

// raceEnabled skips the allocation measurements, which the race detector distorts.
const raceEnabled = true
