package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// DefaultSlotMargin is the least lifetime a slot serves by default: 15
// minutes, botocore's advisory refresh window (botocore/credentials.py,
// RefreshableCredentials._advisory_refresh_timeout = 15 * 60). Credentials
// with less left make botocore refetch on every call, so serving them
// would turn each client call into an endpoint request.
const DefaultSlotMargin = 15 * time.Minute

const (
	// Failed refreshes are retried with exponential backoff from
	// slotRetryMin up to slotRetryMax, jittered to half to full length.
	// Five minutes bounds how long a fixed source (after `aws sso login`)
	// waits for the next background attempt; requests inside the margin
	// refresh synchronously anyway.
	slotRetryMin = 10 * time.Second
	slotRetryMax = 5 * time.Minute

	// slotSyncHoldoff keeps requests from hammering a failing source:
	// within this time of a failed attempt, a request inside the margin
	// is refused without another upstream call. botocore retries every
	// non-200 answer three times in quick succession
	// (docs/sdk-compatibility.md), so a single client call causes one
	// upstream attempt, not four.
	slotSyncHoldoff = 2 * time.Second

	// slotRequestWait is the longest a request waits for a refresh: the
	// endpoint must still write its answer within its write timeout
	// (endpointWriteTimeout), or the client gets an empty reply. With
	// the default source timeout the refresh ends first, and the request
	// gets its outcome; with a longer one, the request gets a 503 naming
	// the source and its timeout, and the refresh goes on.
	slotRequestWait = endpointWriteTimeout - 5*time.Second
)

// SlotsConfig configures Slots. The zero value is usable.
type SlotsConfig struct {
	// Margin is the least lifetime credentials must have left to be
	// served. Zero means DefaultSlotMargin. Credentials whose whole
	// lifetime is under 2*Margin (moto's 900-second AssumeRole, a short
	// credential_process) get a quarter of their lifetime as margin
	// instead, so short-lived sources are still served for three quarters
	// of their life.
	Margin time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Logger receives refresh events (never a secret); nil discards them.
	Logger *slog.Logger

	// Jitter returns a random duration in [0, max). Nil means math/rand/v2.
	// Refresh times and retries are jittered so that many slots, or many
	// agents of one organisation, loaded at the same moment do not all
	// call STS or IAM Identity Center at once.
	Jitter func(max time.Duration) time.Duration

	// SourceTimeout bounds one retrieval from a source: a
	// credential_process run (its process group is killed then) or the
	// calls of an SSO or STS refresh. Zero means DefaultSourceTimeout;
	// more than MaxSourceTimeout means MaxSourceTimeout.
	SourceTimeout time.Duration

	// RequestWait is the longest a request waits for a refresh before it
	// is refused; zero means 25 s, within the endpoint's 30 s write
	// timeout. Tests shorten it.
	RequestWait time.Duration

	// AfterFunc schedules f to run after d and returns a function that
	// cancels it, like time.AfterFunc and Timer.Stop. Nil means
	// time.AfterFunc. Tests replace it to fire refreshes by hand.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)

	// SSO, if not nil, keeps the IAM Identity Center logins of loaded
	// slots fresh and says when one needs a new login (agent/sso.go).
	SSO SSOLogins

	// StateFile, if not empty, is the slots file (see slotstate.go):
	// every load and unload rewrites it with which source is in which
	// slot, never a credential, and Restore reads it when the agent
	// starts. Closing the Slots leaves it as it is.
	StateFile string
}

// SlotStatus describes a loaded slot. It never holds a secret.
type SlotStatus struct {
	Name        string // "" is the default slot
	Spec        SourceSpec
	Description string
	AccountID   string
	RoleARN     string
	// Expires is zero for credentials that do not expire.
	Expires     time.Time
	LastRefresh time.Time
	// NextRefresh is when the next background refresh is due; zero when
	// none is scheduled (static credentials).
	NextRefresh time.Time
	// LastError is why the last refresh failed, "" if it succeeded.
	LastError string
	// Servable says whether a request now would get credentials without
	// waiting for a refresh.
	Servable bool
}

// Slots holds the credentials of the default slot ("") and named slots,
// refreshes them ahead of expiry and serves them to the endpoint. It
// implements CredentialsSource.
//
// The rules (docs/configuration.md, --refresh-margin):
//   - Expired credentials are never served, nor credentials with less
//     than the margin left.
//   - A background refresh is due at expiry - margin - lead, with lead
//     jittered in [margin/6, margin/2): with the default margin, 17.5 to
//     22.5 minutes before expiry. A failed refresh is retried with backoff.
//   - A request that finds the credentials inside the margin refreshes
//     synchronously. Refreshes of a slot are single-flight: however many
//     requests arrive, one upstream call is made at a time.
//   - While refreshes fail, the old credentials are served until they
//     reach the margin; then requests get *UnavailableError with the
//     source's hint.
//   - Static credentials (no expiry) are served as they are.
//
// Timers only start refreshes early; every request compares the wall
// clock with the expiry itself, so a laptop waking from sleep with stale
// timers still never serves stale credentials.
type Slots struct {
	margin        time.Duration
	sourceTimeout time.Duration
	requestWait   time.Duration
	now           func() time.Time
	log           *slog.Logger
	jitter        func(time.Duration) time.Duration
	afterFunc     func(time.Duration, func()) func() bool
	sso           SSOLogins
	stateFile     string

	mu     sync.Mutex
	slots  map[string]*slot
	closed bool
	// changes counts the loads and unloads; the slots file is written
	// with the snapshot of the latest (see record).
	changes uint64

	// recordMu orders the writes of the slots file; recorded is the
	// change it last wrote.
	recordMu sync.Mutex
	recorded uint64
}

// slot is one loaded source. name, spec and provider never change; info
// changes only in a restored slot's flight (slotLoaderInfo); the fields
// from removed on are guarded by Slots.mu.
type slot struct {
	name     string
	spec     SourceSpec
	info     SourceInfo
	provider aws.CredentialsProvider
	// ctx is cancelled when the slot is unloaded, aborting its refresh.
	ctx    context.Context
	cancel context.CancelFunc

	removed     bool
	creds       Credentials
	margin      time.Duration // effective margin of creds
	lastRefresh time.Time
	lastAttempt time.Time
	lastErr     string
	failures    int
	next        time.Time
	stopTimer   func() bool
	flight      *slotFlight
}

// slotFlight is one upstream refresh in progress; waiters block on done.
type slotFlight struct {
	done chan struct{}
	err  error
}

var (
	errSlotUnloaded = errors.New("slot was unloaded")
	errSlotsClosed  = errors.New("slots: closed")
)

// NewSlots returns an empty set of slots.
func NewSlots(cfg SlotsConfig) *Slots {
	s := &Slots{
		margin:        cfg.Margin,
		sourceTimeout: cfg.SourceTimeout,
		requestWait:   cfg.RequestWait,
		now:           cfg.Now,
		log:           cfg.Logger,
		jitter:        cfg.Jitter,
		afterFunc:     cfg.AfterFunc,
		sso:           cfg.SSO,
		stateFile:     cfg.StateFile,
		slots:         make(map[string]*slot),
	}
	if s.margin <= 0 {
		s.margin = DefaultSlotMargin
	}
	if s.sourceTimeout <= 0 {
		s.sourceTimeout = DefaultSourceTimeout
	}
	s.sourceTimeout = min(s.sourceTimeout, MaxSourceTimeout)
	if s.requestWait <= 0 {
		s.requestWait = slotRequestWait
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.jitter == nil {
		s.jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max)
		}
	}
	if s.afterFunc == nil {
		s.afterFunc = func(d time.Duration, f func()) func() bool {
			return time.AfterFunc(d, f).Stop
		}
	}
	return s
}

// slotDisplayName is how people see a slot name.
func slotDisplayName(name string) string { return wire.SlotName(name) }

// Load retrieves credentials from p once, synchronously, and puts them in
// the slot ("" = default; other names must pass ValidateSlotName),
// replacing what the slot held. If the retrieval fails nothing changes and
// the error is a *SourceError carrying info.Hint. p is usually what
// ResolveSource returned for spec; spec and info are kept for List.
func (s *Slots) Load(ctx context.Context, name string, spec SourceSpec, p aws.CredentialsProvider, info SourceInfo) (SlotStatus, error) {
	if name != "" {
		if err := wire.ValidateSlotName(name); err != nil {
			return SlotStatus{}, err
		}
	}
	if p == nil {
		return SlotStatus{}, errors.New("slots: load: no credentials provider")
	}
	source := info.Description
	if source == "" {
		source = spec.String()
	}
	started := s.now()
	ac, err := s.retrieve(ctx, p)
	now := s.now()
	var c Credentials
	var margin time.Duration
	if err == nil {
		c, margin, err = s.fresh(ac, info, started)
	}
	if err != nil {
		return SlotStatus{}, &SourceError{Source: source, Err: errors.New(sourceFailure(err)), HintText: sourceHint(err, info.Hint)}
	}

	sl := &slot{
		name:        name,
		spec:        spec,
		info:        info,
		provider:    p,
		creds:       c,
		margin:      margin,
		lastRefresh: now,
		lastAttempt: now,
	}
	sl.ctx, sl.cancel = context.WithCancel(context.Background())

	// The SSO keeper reads config files: told after the lock is released.
	loaded := false
	defer func() {
		if loaded {
			s.ssoKeep(name, spec)
		}
	}()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sl.cancel()
		return SlotStatus{}, errSlotsClosed
	}
	if old := s.slots[name]; old != nil {
		s.removeLocked(old)
	}
	s.slots[name] = sl
	s.scheduleLocked(sl, now)
	s.log.Info("slot loaded", "slot", slotDisplayName(name), "source", source, "expires", c.Expires)
	loaded = true
	st := s.statusLocked(sl, now)
	change, saved := s.changedLocked()
	s.mu.Unlock()
	s.record(change, saved)
	return st, nil
}

// LoadSource resolves spec with ResolveSource and loads the result into
// the slot: what the control socket's load does.
func (s *Slots) LoadSource(ctx context.Context, name string, spec SourceSpec) (SlotStatus, error) {
	if name != "" {
		if err := wire.ValidateSlotName(name); err != nil {
			return SlotStatus{}, err
		}
	}
	p, info, err := resolveSource(ctx, spec, s.sourceTimeout)
	if err != nil {
		return SlotStatus{}, err
	}
	return s.Load(ctx, name, spec, p, info)
}

// retrieve gets credentials from p within the source timeout, plus the
// time a killed credential_process gets for its pipes to close, so that
// the process's own timeout error comes first.
func (s *Slots) retrieve(ctx context.Context, p aws.CredentialsProvider) (aws.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, s.sourceTimeout+processWaitDelay)
	defer cancel()
	slotInvalidate(p)
	ac, err := p.Retrieve(ctx)
	var pe *ProcessError
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.As(err, &pe) {
		// The SDK's cache says "request canceled, context deadline
		// exceeded", which does not say whose deadline.
		err = fmt.Errorf("the source timed out after %s", processSeconds(s.sourceTimeout))
	}
	return ac, err
}

// Unload drops a slot. It returns an error wrapping ErrNoSlot if nothing
// is loaded there. A refresh in flight finishes into the void.
func (s *Slots) Unload(name string) error {
	s.mu.Lock()
	sl := s.slots[name]
	if sl == nil {
		s.mu.Unlock()
		return fmt.Errorf("slot %s: %w", slotDisplayName(name), ErrNoSlot)
	}
	s.removeLocked(sl)
	s.log.Info("slot unloaded", "slot", slotDisplayName(name))
	s.ssoRetainLocked()
	change, saved := s.changedLocked()
	s.mu.Unlock()
	s.record(change, saved)
	return nil
}

// UnloadAll drops every slot and returns their names, sorted ("" is the
// default slot).
func (s *Slots) UnloadAll() []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.slots))
	for _, sl := range s.slots {
		names = append(names, sl.name)
		s.removeLocked(sl)
	}
	s.ssoRetainLocked()
	change, saved := s.changedLocked()
	s.mu.Unlock()
	s.record(change, saved)
	sort.Strings(names)
	return names
}

// UnloadProfile drops every slot loaded from the named profile and returns
// their names, sorted ("" is the default slot); none is not an error.
func (s *Slots) UnloadProfile(profile string) []string {
	s.mu.Lock()
	var names []string
	for _, sl := range s.slots {
		if sl.spec.Profile == profile {
			names = append(names, sl.name)
			s.removeLocked(sl)
			s.log.Info("slot unloaded", "slot", slotDisplayName(sl.name), "profile", profile)
		}
	}
	s.ssoRetainLocked()
	var change uint64
	var saved []SavedSlot
	if len(names) > 0 {
		change, saved = s.changedLocked()
	}
	s.mu.Unlock()
	s.record(change, saved)
	sort.Strings(names)
	return names
}

// Close drops every slot and refuses further loads.
func (s *Slots) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, sl := range s.slots {
		s.removeLocked(sl)
	}
	return nil
}

// List describes the loaded slots, default slot first, then by name.
func (s *Slots) List() []SlotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]SlotStatus, 0, len(s.slots))
	for _, sl := range s.slots {
		out = append(out, s.statusLocked(sl, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Credentials returns the slot's credentials if they have at least the
// margin left, refreshing them first if not. Errors wrap ErrNoSlot, are
// *UnavailableError, or are the context's error.
func (s *Slots) Credentials(ctx context.Context, name string) (Credentials, error) {
	s.mu.Lock()
	sl := s.slots[name]
	if sl == nil {
		s.mu.Unlock()
		return Credentials{}, fmt.Errorf("slot %s: %w", slotDisplayName(name), ErrNoSlot)
	}
	for refreshed := false; ; refreshed = true {
		now := s.now()
		action := slotDecide(sl.creds, sl.margin, now, sl.lastErr != "", sl.lastAttempt)
		if action == slotServe {
			c := sl.creds
			s.mu.Unlock()
			return c, nil
		}
		if action == slotUnavailable || refreshed {
			err := s.unavailableLocked(sl, now)
			s.mu.Unlock()
			return Credentials{}, err
		}
		f := s.startFlightLocked(sl)
		// Read under the lock: a restored slot's flight sets sl.info.
		hint, source := sl.info.Hint, slotSourceName(sl)
		s.mu.Unlock()
		wait := time.NewTimer(s.requestWait)
		select {
		case <-f.done:
			wait.Stop()
		case <-ctx.Done():
			wait.Stop()
			return Credentials{}, fmt.Errorf("slot %s: wait for refresh: %w", slotDisplayName(name), ctx.Err())
		case <-wait.C:
			// The refresh goes on: a later request gets its outcome.
			return Credentials{}, &UnavailableError{Slot: name, Hint: hint, Reason: fmt.Sprintf(
				"%s has not answered in %s (source timeout %s); the refresh goes on in the background",
				source, processSeconds(s.requestWait), processSeconds(s.sourceTimeout))}
		}
		s.mu.Lock()
		if sl.removed {
			s.mu.Unlock()
			return Credentials{}, fmt.Errorf("slot %s: %w", slotDisplayName(name), ErrNoSlot)
		}
	}
}

// slotAction is what a request does with a slot's current credentials.
type slotAction int

const (
	slotServe       slotAction = iota // fit to serve
	slotRefresh                       // refresh synchronously first
	slotUnavailable                   // refresh failed moments ago: refuse
)

func (a slotAction) String() string {
	return [...]string{"serve", "refresh", "unavailable"}[a]
}

// slotDecide is the serving rule. Credentials without expiry are always
// served; others only with more than zero and at least margin left.
func slotDecide(c Credentials, margin time.Duration, now time.Time, failed bool, lastAttempt time.Time) slotAction {
	if c.AccessKeyID != "" && c.Expires.IsZero() {
		return slotServe
	}
	if left := c.Expires.Sub(now); c.AccessKeyID != "" && left > 0 && left >= margin {
		return slotServe
	}
	if failed && now.Sub(lastAttempt) < slotSyncHoldoff {
		return slotUnavailable
	}
	return slotRefresh
}

// slotMargin is the effective margin for credentials of the given
// lifetime: the configured margin, or a quarter of the lifetime when the
// lifetime is under twice the margin (otherwise 900-second credentials
// under a 15-minute margin could never be served).
func slotMargin(margin, lifetime time.Duration) time.Duration {
	if lifetime < 2*margin {
		return lifetime / 4
	}
	return margin
}

// slotRefreshAt is when a background refresh of credentials expiring at
// expires is due: before the margin is reached by a lead jittered in
// [margin/6, margin/2), so that a background refresh, not a waiting
// request, normally does the work, and slots loaded together spread out.
func slotRefreshAt(expires time.Time, margin time.Duration, jitter func(time.Duration) time.Duration) time.Time {
	lead := margin/6 + jitter(margin/3)
	return expires.Add(-margin - lead)
}

// slotBackoff is the delay before retry number failures (1, 2, ...):
// slotRetryMin doubling up to slotRetryMax, jittered to [d/2, d).
func slotBackoff(failures int, jitter func(time.Duration) time.Duration) time.Duration {
	d := slotRetryMax
	if failures < 16 {
		d = min(slotRetryMin<<max(failures-1, 0), slotRetryMax)
	}
	return d/2 + jitter(d/2)
}

// fresh converts credentials just retrieved and works out their margin
// from their lifetime, measured from asked, when the retrieval started:
// the source made them no earlier, so a slow retrieval can only lengthen
// the measured lifetime and widen the margin, never narrow it.
func (s *Slots) fresh(ac aws.Credentials, info SourceInfo, asked time.Time) (Credentials, time.Duration, error) {
	if ac.AccessKeyID == "" || ac.SecretAccessKey == "" {
		return Credentials{}, 0, errors.New("the source returned no access key")
	}
	c := Credentials{
		AccessKeyID:     ac.AccessKeyID,
		SecretAccessKey: ac.SecretAccessKey,
		SessionToken:    ac.SessionToken,
		AccountID:       ac.AccountID,
		RoleARN:         info.RoleARN,
	}
	if c.AccountID == "" {
		c.AccountID = info.AccountID
	}
	if !ac.CanExpire {
		return c, 0, nil
	}
	c.Expires = ac.Expires.UTC()
	lifetime := c.Expires.Sub(asked)
	if lifetime <= 0 {
		return Credentials{}, 0, fmt.Errorf("the source returned credentials that expired at %s", c.Expires.Format(time.RFC3339))
	}
	return c, slotMargin(s.margin, lifetime), nil
}

// slotInvalidate empties the SDK's own credentials cache (LoadDefaultConfig
// wraps every provider in aws.CredentialsCache), which would otherwise
// hand back its copy until real expiry: our refresh must reach the source.
func slotInvalidate(p aws.CredentialsProvider) {
	if c, ok := p.(interface{ Invalidate() }); ok {
		c.Invalidate()
	}
}

// startFlightLocked returns the slot's refresh in flight, starting one if
// there is none.
func (s *Slots) startFlightLocked(sl *slot) *slotFlight {
	if sl.flight != nil {
		return sl.flight
	}
	f := &slotFlight{done: make(chan struct{})}
	sl.flight = f
	go s.refresh(sl, f)
	return f
}

// refresh makes the upstream call of one flight and records the outcome,
// unless the slot was unloaded meanwhile: then the result is dropped, so
// an unload is never undone by a late refresh.
func (s *Slots) refresh(sl *slot, f *slotFlight) {
	defer close(f.done)
	started := s.now()
	ac, err := s.retrieve(sl.ctx, sl.provider)
	now := s.now()
	// Only a flight writes sl.info (under s.mu), and flights of a slot
	// follow one another: reading it here needs no lock.
	info := slotLoaderInfo(sl)
	var c Credentials
	var margin time.Duration
	if err == nil {
		c, margin, err = s.fresh(ac, info, started)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sl.flight = nil
	if sl.removed {
		f.err = errSlotUnloaded
		return
	}
	sl.lastAttempt = now
	sl.info = info
	same := err == nil && c.AccessKeyID == sl.creds.AccessKeyID && c.Expires.Equal(sl.creds.Expires)
	if same {
		// The source handed back what we hold (a credential_process
		// tool that caches, say). Their margin was set when they were
		// new: measuring their shortened lifetime again would shrink
		// the margin with every refresh, down to serving credentials
		// with seconds left.
		margin = sl.margin
		if slotDecide(c, margin, now, false, time.Time{}) != slotServe {
			err = fmt.Errorf("the source returned the same credentials again, with %s left (margin %s)",
				c.Expires.Sub(now).Round(time.Second), margin)
		}
	}
	if err != nil {
		sl.failures++
		sl.lastErr = sourceFailure(err, sl.creds.SecretAccessKey, sl.creds.SessionToken)
		f.err = errors.New(sl.lastErr)
		s.log.Warn("slot refresh failed", "slot", slotDisplayName(sl.name), "err", sl.lastErr, "failures", sl.failures)
	} else {
		sl.creds, sl.margin = c, margin
		sl.lastRefresh = now
		sl.lastErr = ""
		sl.failures = 0
		s.log.Info("slot refreshed", "slot", slotDisplayName(sl.name), "expires", c.Expires, "same", same)
	}
	s.scheduleLocked(sl, now)
	if same && err == nil {
		// Ask again no sooner than a first retry would.
		if earliest := now.Add(slotRetryMin); sl.next.Before(earliest) {
			s.scheduleAtLocked(sl, now, earliest)
		}
	}
}

// scheduleLocked sets the slot's next background refresh: after a backoff
// when the last attempt failed, else ahead of the margin.
func (s *Slots) scheduleLocked(sl *slot, now time.Time) {
	switch {
	case sl.failures > 0:
		s.scheduleAtLocked(sl, now, now.Add(slotBackoff(sl.failures, s.jitter)))
	case !sl.creds.Expires.IsZero():
		s.scheduleAtLocked(sl, now, slotRefreshAt(sl.creds.Expires, sl.margin, s.jitter))
	default:
		s.scheduleAtLocked(sl, now, time.Time{}) // static credentials: nothing to refresh
	}
}

// scheduleAtLocked replaces the slot's timer with one at next (none if
// next is zero).
func (s *Slots) scheduleAtLocked(sl *slot, now, next time.Time) {
	if sl.stopTimer != nil {
		sl.stopTimer()
		sl.stopTimer = nil
	}
	sl.next = next
	if next.IsZero() {
		return
	}
	sl.stopTimer = s.afterFunc(max(next.Sub(now), 0), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !sl.removed {
			s.startFlightLocked(sl)
		}
	})
}

func (s *Slots) removeLocked(sl *slot) {
	sl.removed = true
	if sl.stopTimer != nil {
		sl.stopTimer()
		sl.stopTimer = nil
	}
	sl.cancel()
	if s.slots[sl.name] == sl {
		delete(s.slots, sl.name)
	}
}

// slotSourceName names the slot's source for people.
func slotSourceName(sl *slot) string {
	if sl.info.Description != "" {
		return sl.info.Description
	}
	return sl.spec.String()
}

func (s *Slots) unavailableLocked(sl *slot, now time.Time) *UnavailableError {
	var reason string
	left := sl.creds.Expires.Sub(now)
	switch {
	case sl.lastErr != "" && sl.creds.AccessKeyID == "":
		reason = "the source did not load when the agent started: " + sl.lastErr + " (the agent tries again on the next request, no reload needed)"
	case sl.creds.AccessKeyID == "":
		reason = "the source is still loading, after the agent started"
	case sl.lastErr != "":
		reason = "refresh failed: " + sl.lastErr + " (the agent tries again on the next request, no reload needed)"
	case left <= 0:
		reason = "credentials expired at " + sl.creds.Expires.Format(time.RFC3339)
	default:
		reason = fmt.Sprintf("credentials expire in %s, inside the %s refresh margin", left.Round(time.Second), sl.margin)
	}
	return s.ssoUnavailableLocked(sl, &UnavailableError{Slot: sl.name, Reason: reason, Hint: sl.info.Hint})
}

func (s *Slots) statusLocked(sl *slot, now time.Time) SlotStatus {
	st := SlotStatus{
		Name:        sl.name,
		Spec:        sl.spec,
		Description: sl.info.Description,
		AccountID:   sl.creds.AccountID,
		RoleARN:     sl.creds.RoleARN,
		Expires:     sl.creds.Expires,
		LastRefresh: sl.lastRefresh,
		NextRefresh: sl.next,
		LastError:   sl.lastErr,
		Servable:    slotDecide(sl.creds, sl.margin, now, false, time.Time{}) == slotServe,
	}
	if st.Description == "" {
		st.Description = sl.spec.String()
	}
	if st.AccountID == "" {
		st.AccountID = sl.info.AccountID
	}
	return st
}

// String is for logs and tests.
func (st SlotStatus) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "slot %s: %s", slotDisplayName(st.Name), st.Description)
	if !st.Expires.IsZero() {
		fmt.Fprintf(&b, ", expires %s", st.Expires.Format(time.RFC3339))
	}
	if st.LastError != "" {
		fmt.Fprintf(&b, ", last refresh failed: %s", st.LastError)
	}
	return b.String()
}

// changedLocked counts a load or unload and returns it with the slots as
// the slots file records them; nothing when there is no slots file.
func (s *Slots) changedLocked() (uint64, []SavedSlot) {
	if s.stateFile == "" {
		return 0, nil
	}
	s.changes++
	saved := make([]SavedSlot, 0, len(s.slots))
	for _, sl := range s.slots {
		saved = append(saved, SavedSlot{Slot: sl.name, Spec: sl.spec})
	}
	return s.changes, saved
}

// record writes the slots file with saved, the slots after change, unless
// a later change was written already: loads and unloads that race each
// other leave the file as the last of them left the slots. It runs
// outside s.mu, so requests never wait for the disk. A write that fails
// is logged: the slot is loaded (or unloaded) all the same, and only a
// restart would miss it.
func (s *Slots) record(change uint64, saved []SavedSlot) {
	if change == 0 {
		return
	}
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	if change <= s.recorded {
		return
	}
	if err := WriteSlotState(s.stateFile, saved); err != nil {
		s.log.Warn("slots file not written: a restart will not restore the slots as they are now", "err", err.Error())
		return
	}
	s.recorded = change
}
