package api

import (
	"testing"
	"time"
)

func TestLimiters(t *testing.T) {
	l := newLimiters(1, 2)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait != time.Second {
		t.Fatalf("past the burst: %v, wait %v; want refused for 1s", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another key is limited by a's use")
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Error("a refused after its token came back")
	}
	l.allow("c", now.Add(2*idle))
	if len(l.m) != 1 {
		t.Errorf("%d buckets after all but one went idle; want 1", len(l.m))
	}
	for i := 0; i < maxBuckets+10; i++ {
		l.allow(string(rune(i)), now.Add(2*idle))
	}
	if len(l.m) > maxBuckets {
		t.Errorf("%d buckets, over the bound %d", len(l.m), maxBuckets)
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := limitKey(in); got != want {
			t.Errorf("limitKey(%q) = %q, want %q", in, got, want)
		}
	}
}
