package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/docs"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

var helpRef = regexp.MustCompile(`aws-sso-agent help ([A-Za-z0-9_.-]+)`)

// helpTopicExists reports whether `aws-sso-agent help name` shows something.
func helpTopicExists(name string) bool {
	if _, ok := docs.Lookup(name); ok {
		return true
	}
	_, ok := commands()[name]
	return ok || name == "topics"
}

// TestHelpReferencesExist: every `aws-sso-agent help TOPIC` written in the
// module's code (hints, usage texts) and in its documents names a topic
// or command that help shows. A hint to a missing topic fails here.
func TestHelpReferencesExist(t *testing.T) {
	root := filepath.Join("..", "..")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !(strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range helpRef.FindAllStringSubmatch(string(data), -1) {
			seen++
			if topic := strings.TrimRight(m[1], ".-"); topic != "TOPIC" && topic != "COMMAND" && !helpTopicExists(topic) {
				t.Errorf("%s: %q names no help topic or command", path, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("found no `aws-sso-agent help TOPIC` anywhere: the walk is broken")
	}
}

// TestTopicHints: the errors a topic explains get a "more:" line naming a
// topic that exists; others get none.
func TestTopicHints(t *testing.T) {
	for _, tc := range []struct {
		err   error
		topic string
	}{
		{&store.UnavailableError{Reason: "no D-Bus session bus"}, "settings"},
		{fmt.Errorf("dial: %w", &forward.UnknownHostError{Host: "h:22"}), "ssh"},
		{&forward.AuthError{User: "u", Addr: "h:22", Err: errors.New("x")}, "ssh"},
		{&public.DNSError{FQDN: "agent.example.com"}, "tls"},
		{&acme.UnreachableError{Directory: "https://ca.example/dir", Err: errors.New("refused")}, "tls"},
		{fmt.Errorf("slot x: %w", agent.ErrNoSlot), "troubleshooting"},
		{errors.New("something else"), ""},
	} {
		got := topicHint(tc.err)
		if tc.topic == "" {
			if got != "" {
				t.Errorf("topicHint(%v) = %q, want none", tc.err, got)
			}
			continue
		}
		if want := "more: aws-sso-agent help " + tc.topic; got != want {
			t.Errorf("topicHint(%v) = %q, want %q", tc.err, got, want)
		}
		if !helpTopicExists(tc.topic) {
			t.Errorf("topic %q does not exist", tc.topic)
		}
	}
}
