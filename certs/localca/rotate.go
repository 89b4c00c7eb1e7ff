package localca

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often LeafRotator.Run looks at the clock.
// A minute: the check is one comparison, and polling (rather than one long
// timer until the rotation is due) keeps rotation on time after the machine
// sleeps, because Go's timers follow a monotonic clock that may stand still
// during suspend while certificate validity follows the wall clock.
const DefaultCheckInterval = time.Minute

// RotatorConfig configures a LeafRotator. The zero value is usable.
type RotatorConfig struct {
	// Validity is the lifetime of each leaf; zero means DefaultLeafValidity.
	Validity time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line per rotation and per failure; nil discards.
	Logger *slog.Logger
	// CheckInterval is how often Run checks whether a rotation is due;
	// zero means DefaultCheckInterval.
	CheckInterval time.Duration
}

// LeafRotator serves the agent's current leaf certificate and replaces it
// with a fresh one at two thirds of its lifetime, without a restart: its
// GetCertificate goes into a tls.Config once, and each new handshake gets
// whatever leaf is current. Connections already established keep the leaf
// they were made with. A LeafRotator is safe for concurrent use.
type LeafRotator struct {
	ca       *CA
	validity time.Duration
	now      func() time.Time
	log      *slog.Logger
	interval time.Duration

	mu  sync.Mutex // serialises rotations; readers use cur without it
	cur atomic.Pointer[leafState]

	// Test hooks: tick replaces Run's ticker, checked runs after each of
	// Run's checks.
	tick    <-chan time.Time
	checked func()
}

// leafState is a leaf and the moment it is due to be replaced.
type leafState struct {
	cert     *tls.Certificate
	rotateAt time.Time
}

// NewLeafRotator issues a first leaf from ca and returns a rotator serving
// it. Call Run to rotate in the background; GetCertificate also rotates a
// leaf that is overdue (after the machine slept through a check, say).
func NewLeafRotator(ca *CA, cfg RotatorConfig) (*LeafRotator, error) {
	if cfg.Validity < 0 {
		return nil, fmt.Errorf("certs: leaf rotator: negative validity %v", cfg.Validity)
	}
	if cfg.CheckInterval < 0 {
		return nil, fmt.Errorf("certs: leaf rotator: negative check interval %v", cfg.CheckInterval)
	}
	r := &LeafRotator{
		ca:       ca,
		validity: cfg.Validity,
		now:      cfg.Now,
		log:      cfg.Logger,
		interval: cfg.CheckInterval,
	}
	if r.validity == 0 {
		r.validity = DefaultLeafValidity
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.interval == 0 {
		r.interval = DefaultCheckInterval
	}
	st, err := r.issue(r.now())
	if err != nil {
		return nil, err
	}
	r.cur.Store(st)
	return r, nil
}

// Current returns the leaf being served now. The caller must not modify it.
func (r *LeafRotator) Current() *tls.Certificate {
	return r.cur.Load().cert
}

// GetCertificate returns the current leaf, for tls.Config.GetCertificate.
// If the leaf is past its rotation time it is rotated first; if that fails
// the old leaf is served while it is still valid.
func (r *LeafRotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := r.cur.Load()
	now := r.now()
	if now.Before(st.rotateAt) {
		return st.cert, nil
	}
	if _, err := r.RotateIfDue(); err != nil {
		if now.Before(st.cert.Leaf.NotAfter) {
			return st.cert, nil
		}
		return nil, err
	}
	return r.cur.Load().cert, nil
}

// RotateIfDue replaces the leaf if two thirds of its lifetime have passed,
// and reports whether it did. Run calls it periodically; callers may call
// it at any time, for example after the machine wakes up.
func (r *LeafRotator) RotateIfDue() (rotated bool, err error) {
	now := r.now()
	if now.Before(r.cur.Load().rotateAt) {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	if now.Before(old.rotateAt) { // another caller rotated meanwhile
		return false, nil
	}
	st, err := r.issue(now)
	if err != nil {
		r.log.Error("certs: leaf rotation failed; serving the old leaf until it expires",
			"err", err, "old_not_after", old.cert.Leaf.NotAfter)
		return false, err
	}
	r.cur.Store(st)
	return true, nil
}

// Run checks every CheckInterval whether the leaf is due for rotation and
// rotates it, until ctx is done; then it returns nil. A failed rotation is
// logged and retried at the next check.
func (r *LeafRotator) Run(ctx context.Context) error {
	tick := r.tick
	if tick == nil {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			// The error is already logged by RotateIfDue, and the old
			// leaf stays in service meanwhile.
			_, _ = r.RotateIfDue()
			if r.checked != nil {
				r.checked()
			}
		}
	}
}

// issue makes a new leaf and computes when it is due for rotation: at two
// thirds of the time from now to its expiry. That leaves a third (2.3 days
// of the default 7) of slack for a missed check, a sleeping machine or a
// failed rotation before clients would see an expired certificate.
func (r *LeafRotator) issue(now time.Time) (*leafState, error) {
	cert, err := r.ca.IssueLeaf(now, r.validity)
	if err != nil {
		return nil, err
	}
	life := cert.Leaf.NotAfter.Sub(now)
	st := &leafState{cert: cert, rotateAt: now.Add(life * 2 / 3)}
	r.log.Info("certs: issued leaf certificate",
		"serial", cert.Leaf.SerialNumber.Text(16),
		"not_after", cert.Leaf.NotAfter.UTC(),
		"rotate_at", st.rotateAt.UTC())
	return st, nil
}
