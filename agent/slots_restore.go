package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Restore puts every slot of the slots file (SlotsConfig.StateFile) back
// and starts loading each, without waiting: the agent serves while its
// sources answer. A slot whose source cannot load stays, with the reason
// as its LastError in List, and is tried again as any failed refresh is
// (backoff up to slotRetryMax, or at once on a request), so fixing the
// source (`aws sso login`, a corrected profile) is enough. It returns the
// slots it put back. A slots file that cannot be read or parsed is the
// error, and then nothing is restored; nothing is ever written by Restore.
func (s *Slots) Restore() ([]SavedSlot, error) {
	if s.stateFile == "" {
		return nil, nil
	}
	saved, err := ReadSlotState(s.stateFile)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errSlotsClosed
	}
	now := s.now()
	for _, sv := range saved {
		if old := s.slots[sv.Slot]; old != nil {
			s.removeLocked(old)
		}
		sl := &slot{
			name:     sv.Slot,
			spec:     sv.Spec,
			provider: &sourceLoader{spec: sv.Spec, timeout: s.sourceTimeout},
			// Until the first attempt ends, a request waits for it (the
			// flight) rather than being refused for a failure.
			lastAttempt: now,
		}
		sl.ctx, sl.cancel = context.WithCancel(context.Background())
		s.slots[sv.Slot] = sl
		s.startFlightLocked(sl)
		s.log.Info("slot restored", "slot", slotDisplayName(sv.Slot), "source", sv.Spec.String())
	}
	s.mu.Unlock()
	// As after Load, the SSO keeper (which reads config files) is told
	// once the lock is released, so restored SSO slots stay logged in.
	for _, sv := range saved {
		s.ssoKeep(sv.Slot, sv.Spec)
	}
	return saved, nil
}

// sourceLoader is the provider of a restored slot: it resolves the spec
// when first asked for credentials, and again on each attempt until that
// succeeds, so a profile that was broken when the agent started works
// once it is fixed.
type sourceLoader struct {
	spec    SourceSpec
	timeout time.Duration

	mu   sync.Mutex
	p    aws.CredentialsProvider
	info SourceInfo
}

func (l *sourceLoader) Retrieve(ctx context.Context) (aws.Credentials, error) {
	l.mu.Lock()
	p := l.p
	l.mu.Unlock()
	if p == nil {
		var info SourceInfo
		var err error
		p, info, err = resolveSource(ctx, l.spec, l.timeout)
		if err != nil {
			var se *SourceError
			if errors.As(err, &se) {
				l.mu.Lock()
				l.info = SourceInfo{Hint: se.HintText}
				l.mu.Unlock()
			}
			return aws.Credentials{}, err
		}
		l.mu.Lock()
		l.p, l.info = p, info
		l.mu.Unlock()
	}
	slotInvalidate(p)
	return p.Retrieve(ctx)
}

// Info is what the last resolution said of the source: its description
// once resolved, else only the hint of its failure.
func (l *sourceLoader) Info() SourceInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// slotLoaderInfo is the slot's SourceInfo after an attempt: for a
// restored slot, what its loader last resolved, so that the credentials
// carry the role and account, and status and refusals describe the
// source and give its hint, as they do for a slot loaded by hand.
func slotLoaderInfo(sl *slot) SourceInfo {
	if l, ok := sl.provider.(*sourceLoader); ok {
		if info := l.Info(); info != (SourceInfo{}) {
			return info
		}
	}
	return sl.info
}
