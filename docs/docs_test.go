package docs

import (
	"strings"
	"testing"
)

func TestTopics(t *testing.T) {
	ts := Topics()
	names := map[string]bool{}
	for _, tp := range ts {
		names[tp.Name] = true
		if tp.Title == "" {
			t.Errorf("%s.md has no title line", tp.Name)
		}
		text, ok := Lookup(tp.Name)
		if !ok || !strings.HasPrefix(text, "# "+tp.Title) {
			t.Errorf("Lookup(%q) = %.40q, %v; want the document", tp.Name, text, ok)
		}
	}
	for _, want := range []string{"install", "quickstart", "ssh", "tls", "troubleshooting", "configuration"} {
		if !names[want] {
			t.Errorf("no topic %q", want)
		}
	}
	for alias, target := range aliases {
		if !names[target] {
			t.Errorf("alias %q names %q, which is no document", alias, target)
		}
		a, _ := Lookup(alias)
		b, _ := Lookup(target)
		if a == "" || a != b {
			t.Errorf("Lookup(%q) differs from Lookup(%q)", alias, target)
		}
	}
}

func TestLookupRefuses(t *testing.T) {
	for _, name := range []string{"", "nosuch", "../go.mod", "docs.go", "./tls", "tls/", `..\tls`} {
		if text, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %.20q, true; want nothing", name, text)
		}
	}
}
