package sso

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

const (
	// keeperAhead is how long before expiry the keeper refreshes an
	// access token: 20 minutes, more than botocore's 15-minute window
	// (botocore/tokens.py SSOTokenProvider._REFRESH_WINDOW), so botocore
	// always finds a fresh token and never races us to rotate the refresh
	// token. aws-sdk-go-v2 refreshes only once the token has expired.
	// Tokens that live under 40 minutes are refreshed at half their life.
	keeperAhead = 20 * time.Minute

	// keeperPoll is how often a session that needs a login re-reads its
	// cache file, to notice a login made elsewhere (aws sso login, or
	// aws-sso-agent login in another terminal).
	keeperPoll = 15 * time.Second

	// Failed refreshes (network, service errors) are retried after
	// keeperRetryMin doubling to keeperRetryMax.
	keeperRetryMin = 10 * time.Second
	keeperRetryMax = 5 * time.Minute
)

// SessionRef names the session of a source as a slot names it: an
// sso-session directly, or a profile whose chain reaches one.
type SessionRef struct {
	ConfigFile string
	SSOSession string
	Profile    string
}

// SessionStatus describes a kept session for `status`. It never holds a
// token.
type SessionStatus struct {
	Session  string    `json:"session"` // Session.String()
	StartURL string    `json:"start_url"`
	Region   string    `json:"region"`
	Expires  time.Time `json:"expires,omitzero"` // of the access token
	// NextRefresh is when the keeper refreshes next.
	NextRefresh time.Time `json:"next_refresh,omitzero"`
	// LoginNeeded says why a person must log in again, "" if not.
	LoginNeeded string `json:"login_needed,omitempty"`
	// LoginRunning says an automatic login waits for the person.
	LoginRunning bool `json:"login_running,omitempty"`
	// LastError is the last refresh's failure that a retry may fix.
	LastError string `json:"last_error,omitempty"`
}

// KeeperConfig configures a Keeper.
type KeeperConfig struct {
	// CacheDir is the token cache; "" means CacheDir().
	CacheDir   string
	HTTPClient *http.Client
	// Logger receives refreshes and logins needed (never a token).
	Logger *slog.Logger
	// AutoLogin, if not nil, is started when a session needs a new
	// login (serve --auto-login): at most one per session at a time,
	// and one per episode, however many requests or slots need it.
	AutoLogin func(ctx context.Context, c *Client) error
	// PollInterval overrides keeperPoll (tests).
	PollInterval time.Duration
}

// Keeper keeps the logins of sessions fresh: it refreshes each session's
// access token ahead of expiry with the refresh token, and records when
// only a new login will do. Its methods are safe for concurrent use.
type Keeper struct {
	cfg    KeeperConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*kept // by Session.String() + region
	refs     map[SessionRef]string
}

type kept struct {
	client *Client
	wake   chan struct{}
	// ctx ends when the keeper closes or forgets the session: its
	// refreshes and its automatic login stop.
	ctx    context.Context
	cancel context.CancelFunc
	// refused is the cache file as it was when only a new login could
	// do: while it stays that file, a poll re-reads it but does not
	// offer the service a refresh token it refused already. Only run
	// uses it.
	refused fs.FileInfo

	// Guarded by Keeper.mu.
	status       SessionStatus
	loginTried   bool // an automatic login ran in this episode
	loginRunning bool
}

// NewKeeper returns a keeper with no sessions; Keep adds them.
func NewKeeper(cfg KeeperConfig) *Keeper {
	k := &Keeper{cfg: cfg, log: cfg.Logger, sessions: map[string]*kept{}, refs: map[SessionRef]string{}}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.cfg.PollInterval <= 0 {
		k.cfg.PollInterval = keeperPoll
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	return k
}

// Keep starts keeping the session ref leads to, if it leads to one and
// it is not kept already. A ref without a session (a profile with static
// keys) is not an error: ok is false.
func (k *Keeper) Keep(ref SessionRef) (ok bool, err error) {
	k.mu.Lock()
	if _, done := k.refs[ref]; done {
		k.mu.Unlock()
		return true, nil
	}
	k.mu.Unlock()
	s, err := LoadSession(ref.ConfigFile, ref.SSOSession, ref.Profile)
	if errors.Is(err, errNoSSO) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c, err := NewClient(k.ctx, ClientConfig{Session: s, ConfigFile: ref.ConfigFile, CacheDir: k.cfg.CacheDir, HTTPClient: k.cfg.HTTPClient})
	if err != nil {
		return false, err
	}
	key := s.String() + " " + s.Region
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refs[ref] = key
	if k.sessions[key] != nil || k.ctx.Err() != nil {
		return true, nil
	}
	kp := &kept{client: c, wake: make(chan struct{}, 1), status: SessionStatus{Session: s.String(), StartURL: s.StartURL, Region: s.Region}}
	kp.ctx, kp.cancel = context.WithCancel(k.ctx)
	k.sessions[key] = kp
	k.wg.Add(1)
	go k.run(kp)
	return true, nil
}

// Retain keeps only the sessions that refs lead to and forgets the
// others: their refreshes and automatic logins stop, and status no
// longer lists them. The agent calls it with the sources of the slots it
// still holds after one is unloaded or replaced, so that a session is
// kept exactly as long as a slot uses it. A ref not kept yet is not
// started (that is Keep's work).
func (k *Keeper) Retain(refs []SessionRef) {
	live := make(map[SessionRef]bool, len(refs))
	for _, r := range refs {
		live[r] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	used := map[string]bool{}
	for r, key := range k.refs {
		if live[r] {
			used[key] = true
		} else {
			delete(k.refs, r)
		}
	}
	for key, kp := range k.sessions {
		if !used[key] {
			kp.cancel()
			delete(k.sessions, key)
			k.log.Info("sso session no longer kept", "session", kp.status.Session, "reason", "no slot uses it")
		}
	}
}

// LoginNeeded says why ref's session needs a new login, if it does.
func (k *Keeper) LoginNeeded(ref SessionRef) (reason string, needed bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kp := k.sessions[k.refs[ref]]
	if kp == nil || kp.status.LoginNeeded == "" {
		return "", false
	}
	return kp.status.LoginNeeded, true
}

// Status describes the kept sessions, by name.
func (k *Keeper) Status() []SessionStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]SessionStatus, 0, len(k.sessions))
	for _, kp := range k.sessions {
		st := kp.status
		st.LoginRunning = kp.loginRunning
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Session < out[j].Session })
	return out
}

// Close stops every refresh and automatic login and waits for them.
func (k *Keeper) Close() {
	k.cancel()
	k.wg.Wait()
}

// run keeps one session until the keeper closes or forgets it.
func (k *Keeper) run(kp *kept) {
	defer k.wg.Done()
	failures := 0
	for {
		wait := k.step(kp, &failures)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-kp.wake:
			t.Stop()
		case <-kp.ctx.Done():
			t.Stop()
			return
		}
	}
}

// step looks at the session's cache once, refreshes when due, and
// returns how long to wait before the next look.
func (k *Keeper) step(kp *kept, failures *int) time.Duration {
	c := kp.client
	now := time.Now()
	t, err := c.Cached()
	if err == nil && !t.ExpiresAt.After(now.Add(k.ahead(c, t))) || errors.Is(err, ErrNoCache) {
		before, statErr := os.Stat(c.CachePath())
		if statErr == nil && kp.refused != nil && sameFile(before, kp.refused) {
			return k.cfg.PollInterval
		}
		t, err = c.Refresh(kp.ctx)
		if err == nil {
			k.log.Info("sso token refreshed", "session", c.session.String(), "expires", t.ExpiresAt)
		}
		kp.refused = nil
		if errors.Is(err, ErrLoginRequired) && statErr == nil {
			kp.refused = before
		}
	}
	if kp.ctx.Err() != nil {
		return time.Hour
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var lre *LoginRequiredError
	switch {
	case errors.As(err, &lre):
		if kp.status.LoginNeeded == "" {
			k.log.Warn("sso login needed", "session", c.session.String(), "reason", lre.Reason, "hint", lre.Hint())
		}
		kp.status.LoginNeeded = lre.Reason
		kp.status.Expires, kp.status.NextRefresh, kp.status.LastError = time.Time{}, time.Time{}, ""
		k.autoLoginLocked(kp)
		return k.cfg.PollInterval
	case err != nil:
		*failures++
		kp.status.LastError = err.Error()
		d := min(keeperRetryMin<<min(*failures-1, 8), keeperRetryMax)
		kp.status.NextRefresh = now.Add(d)
		k.log.Warn("sso token refresh failed", "session", c.session.String(), "err", err, "retry_in", d)
		return d
	}
	*failures = 0
	if kp.status.LoginNeeded != "" {
		k.log.Info("sso session logged in", "session", c.session.String(), "expires", t.ExpiresAt)
	}
	kp.status.LoginNeeded, kp.status.LastError = "", ""
	kp.loginTried = false
	kp.status.Expires = t.ExpiresAt
	kp.status.NextRefresh = t.ExpiresAt.Add(-k.ahead(c, t))
	return max(time.Until(kp.status.NextRefresh), time.Second)
}

// ahead is how long before expiry t is refreshed: keeperAhead, or half
// the token's life for short-lived tokens, its life measured from when
// the cache file was written.
func (k *Keeper) ahead(c *Client, t Token) time.Duration {
	fi, err := os.Stat(c.CachePath())
	if err != nil {
		return keeperAhead
	}
	if life := t.ExpiresAt.Sub(fi.ModTime()); life < 2*keeperAhead {
		return max(life/2, 0)
	}
	return keeperAhead
}

// sameFile reports whether a and b are one version of one file: a login
// or a refresh replaces the cache file (WriteCache renames a new one over
// it), and an editor or another tool may rewrite it in place.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// autoLoginLocked starts the session's automatic login, unless one is
// running or already ran in this episode.
func (k *Keeper) autoLoginLocked(kp *kept) {
	if k.cfg.AutoLogin == nil || kp.loginRunning || kp.loginTried {
		return
	}
	kp.loginRunning, kp.loginTried = true, true
	session := kp.client.session.String()
	k.log.Info("sso login started", "session", session)
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		err := k.cfg.AutoLogin(kp.ctx, kp.client)
		k.mu.Lock()
		kp.loginRunning = false
		k.mu.Unlock()
		if err != nil && kp.ctx.Err() == nil {
			k.log.Warn("sso login failed", "session", session, "err", err,
				"hint", "run: aws-sso-agent login "+kp.client.session.LoginFlags())
		}
		select {
		case kp.wake <- struct{}{}:
		default:
		}
	}()
}

// Wake makes the keeper look at every session's cache now (after a
// login made through the control socket, say).
func (k *Keeper) Wake() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, kp := range k.sessions {
		select {
		case kp.wake <- struct{}{}:
		default:
		}
	}
}
