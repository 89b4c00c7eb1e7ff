package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// slotClock is a fake clock tests advance by hand.
type slotClock struct {
	mu sync.Mutex
	t  time.Time
}

func newSlotClock() *slotClock {
	return &slotClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
}

func (c *slotClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *slotClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// slotTimers records scheduled refreshes on the fake clock instead of
// running them; FireDue runs those that are due.
type slotTimers struct {
	clock *slotClock
	mu    sync.Mutex
	list  []*slotTimer
}

type slotTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (ts *slotTimers) AfterFunc(d time.Duration, f func()) func() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &slotTimer{at: ts.clock.Now().Add(d), f: f}
	ts.list = append(ts.list, t)
	return func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// FireDue runs every pending timer whose time has come and reports how
// many ran.
func (ts *slotTimers) FireDue() int {
	now := ts.clock.Now()
	ts.mu.Lock()
	var due []func()
	keep := ts.list[:0]
	for _, t := range ts.list {
		switch {
		case t.stopped:
		case !t.at.After(now):
			t.stopped = true
			due = append(due, t.f)
		default:
			keep = append(keep, t)
		}
	}
	ts.list = keep
	ts.mu.Unlock()
	for _, f := range due {
		f()
	}
	return len(due)
}

// Pending returns the times of timers not yet fired or stopped.
func (ts *slotTimers) Pending() []time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []time.Time
	for _, t := range ts.list {
		if !t.stopped {
			out = append(out, t.at)
		}
	}
	return out
}

// slotProvider is a fake source. Each call returns a new key (AKIATEST1,
// AKIATEST2, ...) living Lifetime on the fake clock, unless Fail says the
// call fails. With Block set, calls wait for it to be closed.
type slotProvider struct {
	clock    *slotClock
	lifetime atomic.Int64 // time.Duration; 0 = static credentials, < 0 = already expired
	calls    atomic.Int64
	fail     atomic.Pointer[func(n int64) error]
	block    chan struct{}
	entered  chan struct{} // receives once per call, if not nil

	// repeat makes calls return the previous credentials again, as a
	// credential_process tool that caches them does.
	repeat atomic.Bool

	mu        sync.Mutex
	lifetimes map[string]time.Duration
	last      *aws.Credentials
}

func newSlotProvider(clock *slotClock, lifetime time.Duration) *slotProvider {
	p := &slotProvider{clock: clock, lifetimes: make(map[string]time.Duration)}
	p.lifetime.Store(int64(lifetime))
	return p
}

func (p *slotProvider) setFail(f func(n int64) error) { p.fail.Store(&f) }

func (p *slotProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	n := p.calls.Add(1)
	if p.entered != nil {
		p.entered <- struct{}{}
	}
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return aws.Credentials{}, ctx.Err()
		}
	}
	if f := p.fail.Load(); f != nil {
		if err := (*f)(n); err != nil {
			return aws.Credentials{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.repeat.Load() && p.last != nil {
		return *p.last, nil
	}
	key := fmt.Sprintf("AKIATEST%d", n)
	lifetime := time.Duration(p.lifetime.Load())
	c := aws.Credentials{
		AccessKeyID:     key,
		SecretAccessKey: fmt.Sprintf("secret-%d-xxxxxxxx", n),
		SessionToken:    fmt.Sprintf("token-%d-xxxxxxxx", n),
	}
	if lifetime != 0 {
		c.CanExpire = true
		c.Expires = p.clock.Now().Add(lifetime)
	}
	p.lifetimes[key] = lifetime
	p.last = &c
	return c, nil
}

func (p *slotProvider) lifetimeOf(key string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lifetimes[key]
}

type slotHarness struct {
	clock  *slotClock
	timers *slotTimers
	slots  *Slots
}

func newSlotHarness(t *testing.T, jitter func(time.Duration) time.Duration) *slotHarness {
	t.Helper()
	clock := newSlotClock()
	timers := &slotTimers{clock: clock}
	if jitter == nil {
		jitter = func(time.Duration) time.Duration { return 0 }
	}
	s := NewSlots(SlotsConfig{Now: clock.Now, Jitter: jitter, AfterFunc: timers.AfterFunc})
	t.Cleanup(func() { s.Close() })
	return &slotHarness{clock: clock, timers: timers, slots: s}
}

var testSlotInfo = SourceInfo{
	Description: "profile test (fake)",
	AccountID:   "111122223333",
	RoleARN:     "arn:aws:iam::111122223333:role/test",
	Hint:        "run: aws sso login --profile test",
}

func (h *slotHarness) load(t *testing.T, name string, p aws.CredentialsProvider) SlotStatus {
	t.Helper()
	st, err := h.slots.Load(context.Background(), name, SourceSpec{Profile: "test"}, p, testSlotInfo)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	return st
}

func TestSlotDecide(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	fresh := Credentials{AccessKeyID: "AKIA"}
	with := func(left time.Duration) Credentials {
		c := fresh
		c.Expires = now.Add(left)
		return c
	}
	tests := []struct {
		name        string
		creds       Credentials
		margin      time.Duration
		failed      bool
		lastAttempt time.Time
		want        slotAction
	}{
		{"static", fresh, 15 * time.Minute, false, time.Time{}, slotServe},
		{"static after failure", fresh, 15 * time.Minute, true, now, slotServe},
		{"plenty left", with(time.Hour), 15 * time.Minute, false, time.Time{}, slotServe},
		{"exactly the margin", with(15 * time.Minute), 15 * time.Minute, false, time.Time{}, slotServe},
		{"just inside the margin", with(15*time.Minute - time.Nanosecond), 15 * time.Minute, false, time.Time{}, slotRefresh},
		{"expired", with(-time.Second), 15 * time.Minute, false, time.Time{}, slotRefresh},
		{"expiring now, zero margin", with(0), 0, false, time.Time{}, slotRefresh},
		{"valid but refresh failed, still outside margin", with(20 * time.Minute), 15 * time.Minute, true, now, slotServe},
		{"inside margin, failed just now", with(time.Minute), 15 * time.Minute, true, now.Add(-time.Second), slotUnavailable},
		{"inside margin, failed a while ago", with(time.Minute), 15 * time.Minute, true, now.Add(-slotSyncHoldoff), slotRefresh},
		{"expired, failed just now", with(-time.Hour), 15 * time.Minute, true, now, slotUnavailable},
		{"nothing loaded", Credentials{}, 15 * time.Minute, false, time.Time{}, slotRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slotDecide(tt.creds, tt.margin, now, tt.failed, tt.lastAttempt); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSlotMargin(t *testing.T) {
	const m = 15 * time.Minute
	tests := []struct {
		lifetime, want time.Duration
	}{
		{12 * time.Hour, m},
		{time.Hour, m},
		{30 * time.Minute, m},
		{30*time.Minute - time.Second, (30*time.Minute - time.Second) / 4},
		{900 * time.Second, 225 * time.Second}, // moto's default AssumeRole
		{2 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := slotMargin(m, tt.lifetime); got != tt.want {
			t.Errorf("slotMargin(%v, %v) = %v, want %v", m, tt.lifetime, got, tt.want)
		}
	}
}

func TestSlotRefreshAtAndBackoff(t *testing.T) {
	exp := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	const m = 15 * time.Minute
	none := func(time.Duration) time.Duration { return 0 }
	most := func(d time.Duration) time.Duration { return d - 1 }
	if got, want := slotRefreshAt(exp, m, none), exp.Add(-m-m/6); !got.Equal(want) {
		t.Errorf("earliest lead: got %v, want %v", got, want)
	}
	if got, want := slotRefreshAt(exp, m, most), exp.Add(-m-m/6-m/3+1); !got.Equal(want) {
		t.Errorf("latest lead: got %v, want %v", got, want)
	}
	for n, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 9: slotRetryMax / 2, 100: slotRetryMax / 2} {
		if got := slotBackoff(n, none); got != want {
			t.Errorf("slotBackoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestSlotsServeAndBackgroundRefresh(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	st := h.load(t, "", p)
	if !st.Servable || st.Description != testSlotInfo.Description || st.AccountID != testSlotInfo.AccountID {
		t.Errorf("status after load: %+v", st)
	}
	loadedAt := h.clock.Now()
	if got, want := st.NextRefresh, loadedAt.Add(time.Hour-15*time.Minute-15*time.Minute/6); !got.Equal(want) {
		t.Errorf("next refresh: got %v, want %v", got, want)
	}

	c, err := h.slots.Credentials(context.Background(), "")
	if err != nil || c.AccessKeyID != "AKIATEST1" || c.RoleARN != testSlotInfo.RoleARN || c.AccountID != testSlotInfo.AccountID {
		t.Fatalf("Credentials: got %+v, %v", c, err)
	}

	// Not due yet: nothing fires and no request refreshes.
	h.clock.Advance(40 * time.Minute)
	if n := h.timers.FireDue(); n != 0 {
		t.Errorf("timers fired at 40m: %d", n)
	}
	if c, _ := h.slots.Credentials(context.Background(), ""); c.AccessKeyID != "AKIATEST1" {
		t.Errorf("at 40m: got key %s, want AKIATEST1", c.AccessKeyID)
	}
	// Due at 42.5m: the background refresh replaces the credentials
	// before any request is inside the margin.
	h.clock.Advance(3 * time.Minute)
	if n := h.timers.FireDue(); n != 1 {
		t.Fatalf("timers fired at 43m: got %d, want 1", n)
	}
	slotWaitFor(t, func() bool { return h.slots.List()[0].LastRefresh.Equal(h.clock.Now()) })
	if got := p.calls.Load(); got != 2 {
		t.Errorf("upstream calls: got %d, want 2", got)
	}
	c, err = h.slots.Credentials(context.Background(), "")
	if err != nil || c.AccessKeyID != "AKIATEST2" {
		t.Errorf("after background refresh: got %+v, %v; want AKIATEST2", c, err)
	}
}

func TestSlotsStaticCredentials(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, 0)
	st := h.load(t, "static", p)
	if !st.Expires.IsZero() || !st.NextRefresh.IsZero() || !st.Servable {
		t.Errorf("static status: %+v", st)
	}
	if got := h.timers.Pending(); len(got) != 0 {
		t.Errorf("static credentials scheduled refreshes at %v", got)
	}
	h.clock.Advance(1000 * time.Hour)
	c, err := h.slots.Credentials(context.Background(), "static")
	if err != nil || c.AccessKeyID != "AKIATEST1" || !c.Expires.IsZero() {
		t.Errorf("got %+v, %v", c, err)
	}
	if got := p.calls.Load(); got != 1 {
		t.Errorf("upstream calls: got %d, want 1", got)
	}
}

func TestSlotsSingleFlight(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	h.load(t, "dev", p)

	p.block = make(chan struct{})
	p.entered = make(chan struct{}, 2000)
	h.clock.Advance(50 * time.Minute) // 10 minutes left: inside the margin

	const n = 1000
	var wg sync.WaitGroup
	var started sync.WaitGroup
	keys := make([]string, n)
	errs := make([]error, n)
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			started.Done()
			c, err := h.slots.Credentials(context.Background(), "dev")
			keys[i], errs[i] = c.AccessKeyID, err
		})
	}
	started.Wait()
	<-p.entered // the one refresh is upstream
	// Let the other requests pile up behind it; whether they join the
	// flight or arrive after it, none may call upstream again.
	time.Sleep(20 * time.Millisecond)
	close(p.block)
	wg.Wait()

	if got := p.calls.Load(); got != 2 {
		t.Errorf("upstream calls: got %d, want 2 (load + one refresh)", got)
	}
	for i := range n {
		if errs[i] != nil || keys[i] != "AKIATEST2" {
			t.Fatalf("request %d: got %q, %v; want AKIATEST2", i, keys[i], errs[i])
		}
	}
}

func TestSlotsFailingRefresh(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	h.load(t, "dev", p)
	// The failure quotes the old secret, as a careless source might.
	p.setFail(func(int64) error {
		return errors.New("token expired (was secret-1-xxxxxxxx)")
	})

	// The background refresh fails at 42.5m; requests keep getting the
	// old credentials, which still have more than the margin left.
	h.clock.Advance(43 * time.Minute)
	if n := h.timers.FireDue(); n != 1 {
		t.Fatalf("timers fired: got %d, want 1", n)
	}
	slotWaitFor(t, func() bool { return h.slots.List()[0].LastError != "" })
	st := h.slots.List()[0]
	if !st.Servable || strings.Contains(st.LastError, "secret-1") {
		t.Errorf("status after failed refresh: %+v", st)
	}
	if got := st.NextRefresh.Sub(h.clock.Now()); got != slotRetryMin/2 {
		t.Errorf("retry in %v, want %v", got, slotRetryMin/2)
	}
	c, err := h.slots.Credentials(context.Background(), "dev")
	if err != nil || c.AccessKeyID != "AKIATEST1" {
		t.Fatalf("at 43m: got %+v, %v; want the old AKIATEST1", c, err)
	}

	// Inside the margin: the request refreshes synchronously, which fails,
	// and the answer is an UnavailableError with the source's hint.
	h.clock.Advance(3 * time.Minute)
	_, err = h.slots.Credentials(context.Background(), "dev")
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("at 46m: got %v, want *UnavailableError", err)
	}
	if ue.Slot != "dev" || ue.Hint != testSlotInfo.Hint || !strings.Contains(ue.Reason, "token expired") {
		t.Errorf("UnavailableError: %+v", ue)
	}
	// The slot recovers by itself (below): the message must say so, and
	// must not send the user to load it again.
	if !strings.Contains(ue.Reason, "tries again on the next request") || strings.Contains(ue.Reason+ue.Hint, "load it again") {
		t.Errorf("UnavailableError does not tell the truth about recovery: %+v", ue)
	}
	if strings.Contains(err.Error(), "secret-1") || strings.Contains(ue.Reason, "secret-1") {
		t.Errorf("error leaks the secret: %v", err)
	}
	calls := p.calls.Load()
	// Within the hold-off, requests do not call upstream again.
	for range 10 {
		if _, err := h.slots.Credentials(context.Background(), "dev"); !errors.As(err, &ue) {
			t.Fatalf("repeat: got %v, want *UnavailableError", err)
		}
	}
	if got := p.calls.Load(); got != calls {
		t.Errorf("upstream calls during hold-off: got %d, want %d", got, calls)
	}

	// The source recovers (the user ran aws sso login): the next request
	// after the hold-off gets fresh credentials without a reload.
	p.setFail(func(int64) error { return nil })
	h.clock.Advance(slotSyncHoldoff)
	c, err = h.slots.Credentials(context.Background(), "dev")
	if err != nil || c.AccessKeyID == "AKIATEST1" {
		t.Fatalf("after recovery: got %+v, %v", c, err)
	}
	if st := h.slots.List()[0]; st.LastError != "" || !st.Servable {
		t.Errorf("status after recovery: %+v", st)
	}
}

func TestSlotsSourceRepeatsCredentials(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	h.load(t, "cached", p)
	p.repeat.Store(true)

	// The background refresh at 42.5m gets the same credentials back:
	// not an error while they are outside the margin, and the next try
	// is not immediate.
	h.clock.Advance(43 * time.Minute)
	if n := h.timers.FireDue(); n != 1 {
		t.Fatalf("timers fired: got %d, want 1", n)
	}
	slotWaitFor(t, func() bool { return p.calls.Load() == 2 && h.slots.List()[0].LastRefresh.Equal(h.clock.Now()) })
	st := h.slots.List()[0]
	if st.LastError != "" || !st.Servable || st.NextRefresh.Sub(h.clock.Now()) < slotRetryMin {
		t.Errorf("status after repeated credentials: %+v", st)
	}
	// Firing timers every second for the next minute reaches the source
	// a handful of times, not sixty.
	for range 60 {
		h.clock.Advance(time.Second)
		h.timers.FireDue()
		slotWaitFor(t, func() bool { return len(h.timers.Pending()) == 1 })
	}
	if got := p.calls.Load(); got > 2+60/int64(slotRetryMin/time.Second) {
		t.Errorf("upstream calls in a minute of repeats: %d", got)
	}

	// Inside the margin the same credentials are not fresh: refused.
	h.clock.Advance(3 * time.Minute)
	_, err := h.slots.Credentials(context.Background(), "cached")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "same credentials") {
		t.Errorf("inside the margin: got %v, want *UnavailableError about the same credentials", err)
	}
}

func TestSlotsShortLivedSource(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, 900*time.Second) // moto's default AssumeRole
	st := h.load(t, "moto", p)
	if !st.Servable {
		t.Fatalf("900-second credentials not servable: %+v", st)
	}
	// Effective margin is 225 s: served until then, refreshed after.
	h.clock.Advance(900*time.Second - 225*time.Second)
	if c, err := h.slots.Credentials(context.Background(), "moto"); err != nil || c.AccessKeyID != "AKIATEST1" {
		t.Errorf("with 225s left: got %+v, %v; want AKIATEST1", c, err)
	}
	h.clock.Advance(time.Second)
	if c, err := h.slots.Credentials(context.Background(), "moto"); err != nil || c.AccessKeyID != "AKIATEST2" {
		t.Errorf("with 224s left: got %+v, %v; want a refresh to AKIATEST2", c, err)
	}
}

func TestSlotsUnloadDuringRefresh(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	h.load(t, "dev", p)
	p.block = make(chan struct{})
	p.entered = make(chan struct{}, 10)
	h.clock.Advance(50 * time.Minute)

	done := make(chan error, 1)
	go func() {
		_, err := h.slots.Credentials(context.Background(), "dev")
		done <- err
	}()
	<-p.entered
	if err := h.slots.Unload("dev"); err != nil {
		t.Fatalf("Unload: %v", err)
	}
	// A new source loaded under the same name while the old refresh is
	// still upstream.
	q := newSlotProvider(h.clock, 2*time.Hour)
	h.load(t, "dev", q)
	close(p.block) // the old refresh would now succeed (with AKIATEST2)

	if err := <-done; !errors.Is(err, ErrNoSlot) {
		t.Errorf("request waiting on the unloaded slot: got %v, want ErrNoSlot", err)
	}
	// Give the old flight's goroutine time to (wrongly) write back.
	time.Sleep(10 * time.Millisecond)
	c, err := h.slots.Credentials(context.Background(), "dev")
	if err != nil || c.AccessKeyID != "AKIATEST1" || !c.Expires.Equal(h.clock.Now().Add(2*time.Hour)) {
		t.Errorf("after reload: got %+v, %v; want the new source's AKIATEST1", c, err)
	}
	if err := h.slots.Unload("dev"); err != nil {
		t.Fatal(err)
	}
	if got := h.slots.List(); len(got) != 0 {
		t.Errorf("List after unload: %v", got)
	}
	if _, err := h.slots.Credentials(context.Background(), "dev"); !errors.Is(err, ErrNoSlot) {
		t.Errorf("Credentials after unload: got %v, want ErrNoSlot", err)
	}
	if err := h.slots.Unload("dev"); !errors.Is(err, ErrNoSlot) {
		t.Errorf("second Unload: got %v, want ErrNoSlot", err)
	}
	// The unloaded slots' timers are stopped.
	if got := h.timers.Pending(); len(got) != 0 {
		t.Errorf("pending timers after unload: %v", got)
	}
}

func TestSlotsLoadFailure(t *testing.T) {
	h := newSlotHarness(t, nil)
	p := newSlotProvider(h.clock, time.Hour)
	p.setFail(func(int64) error { return errors.New("the SSO session has expired or is invalid") })
	_, err := h.slots.Load(context.Background(), "dev", SourceSpec{Profile: "test"}, p, testSlotInfo)
	var se *SourceError
	if !errors.As(err, &se) || se.Hint() != testSlotInfo.Hint || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("got %v, want *SourceError with the hint", err)
	}
	var hinter interface{ Hint() string }
	if !errors.As(err, &hinter) {
		t.Errorf("load error has no Hint() for the control socket")
	}
	if got := h.slots.List(); len(got) != 0 {
		t.Errorf("failed load left slots: %v", got)
	}

	// Expired on arrival is a failure too.
	p.setFail(func(int64) error { return nil })
	p.lifetime.Store(int64(-time.Minute))
	if _, err := h.slots.Load(context.Background(), "dev", SourceSpec{Profile: "test"}, p, testSlotInfo); err == nil {
		t.Errorf("loaded expired credentials")
	}
	for _, name := range []string{"a/b", strings.Repeat("x", 65), "tab\there"} {
		if _, err := h.slots.Load(context.Background(), name, SourceSpec{Profile: "test"}, p, testSlotInfo); err == nil {
			t.Errorf("Load accepted slot name %q", name)
		}
	}

	h.slots.Close()
	p.lifetime.Store(int64(time.Hour))
	if _, err := h.slots.Load(context.Background(), "dev", SourceSpec{Profile: "test"}, p, testSlotInfo); err == nil {
		t.Errorf("Load after Close succeeded")
	}
}

func TestSlotsList(t *testing.T) {
	h := newSlotHarness(t, nil)
	for _, name := range []string{"b", "", "a"} {
		h.load(t, name, newSlotProvider(h.clock, time.Hour))
	}
	var names []string
	for _, st := range h.slots.List() {
		names = append(names, st.Name)
	}
	if got, want := strings.Join(names, ","), ",a,b"; got != want {
		t.Errorf("List order: got %q, want %q", got, want)
	}
	h.slots.UnloadAll()
	if got := h.slots.List(); len(got) != 0 {
		t.Errorf("after UnloadAll: %v", got)
	}
}

// TestSlotsNeverServeStale drives a slot over many lifetimes with a
// source that often fails and changes its lifetime, and checks every
// credential served against the rule: more than zero and at least the
// effective margin left.
func TestSlotsNeverServeStale(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Jitter runs on refresh goroutines too: its own generator.
	var jmu sync.Mutex
	jrng := rand.New(rand.NewPCG(3, 4))
	h := newSlotHarness(t, func(d time.Duration) time.Duration {
		jmu.Lock()
		defer jmu.Unlock()
		if d <= 0 {
			return 0
		}
		return time.Duration(jrng.Int64N(int64(d)))
	})
	p := newSlotProvider(h.clock, time.Hour)
	h.load(t, "prop", p)
	lifetimes := []time.Duration{time.Hour, 12 * time.Hour, 900 * time.Second, 5 * time.Minute, 31 * time.Minute}
	var failing atomic.Bool
	p.setFail(func(int64) error {
		if failing.Load() {
			return errors.New("upstream down")
		}
		return nil
	})

	var served, unavailable int
	for i := range 20000 {
		h.clock.Advance(time.Duration(rng.Int64N(int64(3 * time.Minute))))
		p.lifetime.Store(int64(lifetimes[rng.IntN(len(lifetimes))]))
		failing.Store(rng.IntN(10) < 4)
		p.repeat.Store(rng.IntN(10) < 2)
		if rng.IntN(2) == 0 {
			h.timers.FireDue()
		}
		now := h.clock.Now()
		c, err := h.slots.Credentials(context.Background(), "prop")
		var ue *UnavailableError
		switch {
		case err == nil:
			served++
			left := c.Expires.Sub(h.clock.Now())
			margin := slotMargin(DefaultSlotMargin, p.lifetimeOf(c.AccessKeyID))
			if left <= 0 || left < margin {
				t.Fatalf("step %d at %v: served %s with %v left, margin %v", i, now, c.AccessKeyID, left, margin)
			}
		case errors.As(err, &ue):
			unavailable++
		default:
			t.Fatalf("step %d: unexpected error %v", i, err)
		}
	}
	if served == 0 || unavailable == 0 {
		t.Errorf("served %d, unavailable %d: the walk should see both", served, unavailable)
	}
	t.Logf("served %d, unavailable %d, upstream calls %d", served, unavailable, p.calls.Load())
}

func slotWaitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached within 5s")
}

func BenchmarkSlotsCredentials(b *testing.B) {
	clock := newSlotClock()
	s := NewSlots(SlotsConfig{Now: clock.Now})
	defer s.Close()
	if _, err := s.Load(context.Background(), "", SourceSpec{Profile: "bench"}, newSlotProvider(clock, time.Hour), SourceInfo{}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Credentials(context.Background(), ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSlotsUnloadProfile(t *testing.T) {
	h := newSlotHarness(t, nil)
	for _, l := range []struct{ slot, profile string }{{"sec", "audit"}, {"", "audit"}, {"audit", "dev"}} {
		p := newSlotProvider(h.clock, time.Hour)
		if _, err := h.slots.Load(context.Background(), l.slot, SourceSpec{Profile: l.profile}, p, testSlotInfo); err != nil {
			t.Fatal(err)
		}
	}
	// By profile, not by the slot that happens to share its name.
	if got := h.slots.UnloadProfile("audit"); !slices.Equal(got, []string{"", "sec"}) {
		t.Errorf("UnloadProfile(audit): got %q, want the default slot and sec", got)
	}
	if got := h.slots.UnloadProfile("audit"); len(got) != 0 {
		t.Errorf("second UnloadProfile: got %q, want none", got)
	}
	if got := h.slots.UnloadAll(); !slices.Equal(got, []string{"audit"}) {
		t.Errorf("UnloadAll: got %q, want [audit]", got)
	}
	if got := h.slots.UnloadAll(); got == nil || len(got) != 0 {
		t.Errorf("UnloadAll of nothing: got %#v, want empty", got)
	}
}
