package settings

import (
	"errors"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzParse: the parser never panics, every refusal is an *Error with a
// line inside the input, and what it accepts it accepts again once
// normalized.
func FuzzParse(f *testing.F) {
	fuzztest.Start(f)
	for _, seed := range []string{
		"",
		"[default]\nstore = file\npassphrase_file = ~/p\n",
		"# c\n; c\nport = 4144\nbind_ip = ::1\nrefresh_margin = 15m\nsource_timeout = 1m\nlog_format = json\nstore_file = /s\n",
		"[profile x]\n",
		"[default\n",
		"port = 1\nport = 2\n",
		"\uFEFFstore=keyring\r\n",
		"key\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return // a scanner error (a line longer than the file may be)
			}
			if e.Line < 1 || e.Line > countLines(data)+1 {
				t.Fatalf("error line %d outside 1..%d: %v", e.Line, countLines(data)+1, err)
			}
			return
		}
		var again []byte
		for _, k := range Keys {
			if v, ok := s.Lookup(k.Name); ok {
				again = append(again, k.Name+" = "+v.Text+"\n"...)
			}
		}
		s2, err := Parse("again", again)
		if err != nil {
			t.Fatalf("normalized form %q refused: %v", again, err)
		}
		for _, k := range Keys {
			a, _ := s.Lookup(k.Name)
			b, _ := s2.Lookup(k.Name)
			if a.Text != b.Text {
				t.Fatalf("%s: %q, then %q", k.Name, a.Text, b.Text)
			}
		}
	})
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
