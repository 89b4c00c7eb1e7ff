//go:build race

package store

// raceEnabled: the race detector slows scrypt about twentyfold.
const raceEnabled = true
