package tunnel

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzReadPID: whatever the remote rc files print, readPID returns a
// positive pid only from a whole marker line, and never reads past its
// bound.
func FuzzReadPID(f *testing.F) {
	for _, s := range []string{
		"\naws-sso-agent-pid:42\n",
		"Welcome\r\n\naws-sso-agent-pid:7\r\n",
		"aws-sso-agent-pid:\n",
		"aws-sso-agent-pid:-1\naws-sso-agent-pid:3\n",
		"banner aws-sso-agent-pid:5\n",
		"aws-sso-agent-pid:+5\n",
		"aws-sso-agent-pid:05\n",
		strings.Repeat("x", 100) + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		pid, err := readPID(strings.NewReader(out))
		if err != nil {
			if pid != 0 {
				t.Fatalf("readPID = %d with error %v", pid, err)
			}
			return
		}
		if pid < 1 {
			t.Fatalf("readPID = %d, no error", pid)
		}
		line := "\n" + pidMarker + strconv.Itoa(pid)
		i := strings.Index("\n"+out, line)
		if i < 0 || i+len(line) > maxRCOutput {
			t.Fatalf("readPID = %d from %q: no marker line for it within the bound", pid, out)
		}
	})
}
