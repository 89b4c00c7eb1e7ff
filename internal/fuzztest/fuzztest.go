// Package fuzztest holds what the repository's fuzz targets share: how
// long the fuzzer may spend minimizing an input, and where a target that
// writes files writes them.
package fuzztest

import (
	"flag"
	"os"
	"testing"
)

// MinimizeLimit is how many calls of the fuzz function the fuzzer may spend
// minimizing one input, unless -fuzzminimizetime says otherwise.
//
// Go's default is 60 s, spent on every input that widens coverage, not
// only on failures. Minimizing a byte slice tries dropping each byte and
// then each range of bytes (internal/fuzz's minimizeBytes), which is
// quadratic in its length: for inputs the size of a certificate or a
// config file a worker spends the whole minute there, reports no
// executions meanwhile (a 30 s run of FuzzParseCA counted 5), and
// explores nothing. 200 calls still cut a failing input's tail, the step
// that shrinks it most, and keep the workers mutating.
const MinimizeLimit = "200x"

const minimizeFlag = "test.fuzzminimizetime"

// Start applies MinimizeLimit unless the command line set
// -fuzzminimizetime. Call it first in every fuzz target: the fuzzer reads
// the flag when the target calls f.Fuzz.
func Start(f *testing.F) {
	f.Helper()
	explicit := false
	flag.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == minimizeFlag })
	fl := flag.Lookup(minimizeFlag)
	if explicit || fl == nil {
		return
	}
	if err := fl.Value.Set(MinimizeLimit); err != nil {
		f.Fatalf("fuzztest: -%s=%s: %v", minimizeFlag, MinimizeLimit, err)
	}
}

// MemDir returns a fresh directory in memory (/dev/shm) where there is
// one, else f.TempDir(), and points TMPDIR at it for the target's
// lifetime. A target whose code under test writes and removes files
// (a sanitized known_hosts copy) then measures that code, not the disk's
// inode allocator, which on a busy ext4 took most of each execution.
func MemDir(f *testing.F) string {
	f.Helper()
	dir := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "fuzz-"); err == nil {
			dir = d
			f.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	if dir == "" {
		dir = f.TempDir()
	}
	f.Setenv("TMPDIR", dir)
	return dir
}
