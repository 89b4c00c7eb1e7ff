package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the per-key and per-IP request rates.
type Limits struct {
	PerIP    rate.Limit
	IPBurst  int
	PerKey   rate.Limit
	KeyBurst int
}

// DefaultLimits allow a person's scripts plenty (a sign-csr is one
// request, a renewal one more) and a key-guesser nothing useful: with
// 256-bit keys guessing is hopeless anyway, so the per-IP limit is about
// the database's load.
func DefaultLimits() Limits {
	return Limits{PerIP: 10, IPBurst: 40, PerKey: 2, KeyBurst: 10}
}

// limiters is a set of token buckets by key, forgetting the idle ones.
type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*entry
	swept time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// idle is how long an unused bucket is kept. By then it is full again
// for any limit above 1 per idle/burst, so forgetting it changes nothing.
const idle = 10 * time.Minute

// maxBuckets bounds the memory of one set (about 100 bytes a bucket): a
// flood from many addresses sweeps the idle ones early.
const maxBuckets = 100_000

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, m: map[string]*entry{}}
}

// allow takes a token for key at now, or says how long until one is
// free.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if l.limit == rate.Inf {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idle || len(l.m) >= maxBuckets {
		for k, e := range l.m {
			if now.Sub(e.seen) > idle {
				delete(l.m, k)
			}
		}
		l.swept = now
		if len(l.m) >= maxBuckets {
			// Nothing idle to forget: a flood from as many addresses.
			// Start over rather than grow; each of them had its burst
			// already.
			clear(l.m)
		}
	}
	e := l.m[key]
	if e == nil {
		e = &entry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
