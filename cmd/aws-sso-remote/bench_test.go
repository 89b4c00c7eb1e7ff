package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkEnv runs `env` end to end in process against the fake agent:
// session discovery, the TLS 1.3 handshake with the pinned CA, the proof,
// the token check and writing the token file. The budget is a
// median of 20 ms for the whole command; it also reports the median.
func BenchmarkEnv(b *testing.B) {
	f := newFixture(b, nil)
	var times []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, stderr, code := f.run(b, "env"); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkEnvTLS is env --tls: it also writes the CA bundle.
func BenchmarkEnvTLS(b *testing.B) {
	f := newFixture(b, nil)
	for b.Loop() {
		if _, stderr, code := f.run(b, "env", "--tls"); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr)
		}
	}
}

// BenchmarkEnvProcess runs the built binary, as a shell does with
// eval "$(aws-sso-remote env)": process start-up and the real ancestry
// walk included. This is the figure the 20 ms budget is about.
func BenchmarkEnvProcess(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "aws-sso-remote")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	f := newFixture(b, nil)
	env := []string{"HOME=" + filepath.Dir(f.root), "PATH=" + os.Getenv("PATH")}
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(bin, "env")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("env: %v\n%s", err, out)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}
