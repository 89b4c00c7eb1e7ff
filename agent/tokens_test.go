package agent

import (
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 43 {
			t.Fatalf("len(%q): got %d, want 43", tok, len(tok))
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 32 {
			t.Fatalf("token %q: not 32 bytes of base64url: %v", tok, err)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
	}
}

func TestTokens(t *testing.T) {
	var ts Tokens // the zero value is usable
	if _, ok := ts.Lookup("x"); ok {
		t.Fatal("empty registry found a token")
	}
	slots := []string{"dev"}
	ts.Add("local", Grant{})
	ts.Add("s1-a", Grant{SessionID: "s1", Slots: slots})
	ts.Add("s1-b", Grant{SessionID: "s1"})
	ts.Add("s2", Grant{SessionID: "s2", Slots: []string{}})
	slots[0] = "prod" // Add copied the slots

	for _, tt := range []struct {
		token   string
		ok      bool
		session string
		slot    string
		allowed bool
	}{
		{"local", true, "", "anything", true},
		{"s1-a", true, "s1", "dev", true},
		{"s1-a", true, "s1", "prod", false},
		{"s1-b", true, "s1", "prod", true},
		{"s2", true, "s2", "", false},
		{"nope", false, "", "", false},
		{"local\n", false, "", "", false},
		{"", false, "", "", false},
	} {
		g, ok := ts.Lookup(tt.token)
		if ok != tt.ok || g.SessionID != tt.session || (ok && g.allows(tt.slot) != tt.allowed) {
			t.Errorf("Lookup(%q): got %+v %v, allows(%q) %v; want session %q ok %v allows %v",
				tt.token, g, ok, tt.slot, g.allows(tt.slot), tt.session, tt.ok, tt.allowed)
		}
	}

	ts.Revoke("s1-a")
	if _, ok := ts.Lookup("s1-a"); ok {
		t.Error("revoked token still valid")
	}
	ts.Add("s1-a", Grant{SessionID: "s1"})
	ts.RevokeSession("s1")
	for _, tok := range []string{"s1-a", "s1-b"} {
		if _, ok := ts.Lookup(tok); ok {
			t.Errorf("token %q of revoked session still valid", tok)
		}
	}
	if _, ok := ts.Lookup("local"); !ok {
		t.Error("RevokeSession(s1) revoked the local token")
	}
	if got := ts.Len(); got != 2 {
		t.Errorf("Len: got %d, want 2", got)
	}
}

func TestTokensConcurrent(t *testing.T) {
	ts := NewTokens()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				tok := fmt.Sprintf("t%d-%d", i, j)
				ts.Add(tok, Grant{SessionID: fmt.Sprint(i)})
				if _, ok := ts.Lookup(tok); !ok {
					t.Errorf("token %q not found after Add", tok)
				}
				if j%2 == 0 {
					ts.Revoke(tok)
				}
			}
			ts.RevokeSession(fmt.Sprint(i))
		}()
	}
	wg.Wait()
	if got := ts.Len(); got != 0 {
		t.Errorf("Len after revoking all: got %d, want 0", got)
	}
}

func BenchmarkTokensLookup(b *testing.B) {
	ts := NewTokens()
	tok, _ := NewToken()
	ts.Add(tok, Grant{})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ts.Lookup(tok); !ok {
			b.Fatal("not found")
		}
	}
}
