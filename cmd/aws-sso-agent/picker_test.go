package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// TestPickerInPTY drives the picker through a real pseudo-terminal: the
// picker puts the terminal in raw mode, reads keys, and draws on it.
func TestPickerInPTY(t *testing.T) {
	names := []string{"dev-admin", "dev-readonly", "prod-admin", "prod-readonly", "sandbox"}
	tests := []struct {
		name  string
		keys  []string
		want  string
		isErr error
	}{
		{"enter picks the first", []string{"\r"}, "dev-admin", nil},
		{"filter by typing", []string{"prod", "\r"}, "prod-admin", nil},
		{"several terms", []string{"prod read", "\r"}, "prod-readonly", nil},
		{"arrow down", []string{"\x1b[B", "\x1b[B", "\r"}, "prod-admin", nil},
		{"arrow up wraps", []string{"\x1b[A", "\r"}, "sandbox", nil},
		{"ctrl-n", []string{"dev", "\x0e", "\r"}, "dev-readonly", nil},
		{"backspace", []string{"sandx", "\x7f", "\r"}, "sandbox", nil},
		{"ctrl-u clears", []string{"zzz", "\x15", "\r"}, "dev-admin", nil},
		{"enter with no match does nothing", []string{"zzz", "\r", "\x15", "sand", "\r"}, "sandbox", nil},
		{"typed with enter in one read", []string{"prod\r"}, "prod-admin", nil},
		{"pasted filter, arrow and enter", []string{"read\x1b[B\r"}, "prod-readonly", nil},
		{"esc cancels", []string{"\x1b"}, "", errPickCancelled},
		{"ctrl-c cancels", []string{"\x03"}, "", errPickCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal here: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			var screen e2e.LockedBuffer
			go io.Copy(&screen, ptmx)

			type result struct {
				got string
				err error
			}
			done := make(chan result, 1)
			go func() {
				got, err := pickInTerminal(tty, tty, profileChoices(names))
				done <- result{got.spec.Profile, err}
			}()
			waitScreen(t, &screen, "Pick a profile")
			for _, k := range tt.keys {
				ptmx.WriteString(k)
				time.Sleep(20 * time.Millisecond) // one read per key group, as a person types
			}
			select {
			case r := <-done:
				if !errors.Is(r.err, tt.isErr) || r.got != tt.want {
					t.Errorf("got %q, %v; want %q, %v", r.got, r.err, tt.want, tt.isErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("picker did not return; screen:\n%s", screen.String())
			}
		})
	}
}

func TestPickerNeedsTerminal(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"load"}, strings.NewReader(""), io.Discard, &stderr)
	if code != 2 {
		t.Errorf("exit status: got %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "no profile given: use --profile PROFILE") {
		t.Errorf("stderr: got %q, want the missing-flag message", stderr.String())
	}
}

func waitScreen(t *testing.T, b *e2e.LockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q:\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
