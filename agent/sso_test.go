package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// stubLogins is an SSOLogins that records what it is told.
type stubLogins struct {
	mu       sync.Mutex
	kept     []sso.SessionRef
	needed   string
	retained [][]sso.SessionRef // each Retain's refs, sorted
}

func (s *stubLogins) Keep(ref sso.SessionRef) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = append(s.kept, ref)
	return true, nil
}

func (s *stubLogins) LoginNeeded(sso.SessionRef) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.needed, s.needed != ""
}

func (s *stubLogins) Status() []sso.SessionStatus { return nil }

func (s *stubLogins) Retain(refs []sso.SessionRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	refs = slices.Clone(refs)
	slices.SortFunc(refs, func(a, b sso.SessionRef) int { return strings.Compare(a.Profile, b.Profile) })
	s.retained = append(s.retained, refs)
}

// lastRetained is what the keeper was last told to retain.
func (s *stubLogins) lastRetained(t *testing.T) []sso.SessionRef {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.retained) == 0 {
		t.Fatal("the keeper was never told which sessions to retain")
	}
	return s.retained[len(s.retained)-1]
}

// TestSlotsTellKeeperWhatIsHeld: after every unload and every
// replacement, the keeper hears the sources of the slots still held, so
// it forgets a session whose last slot went.
func TestSlotsTellKeeperWhatIsHeld(t *testing.T) {
	clock := newSlotClock()
	timers := &slotTimers{clock: clock}
	logins := &stubLogins{}
	s := NewSlots(SlotsConfig{Now: clock.Now, Jitter: func(time.Duration) time.Duration { return 0 }, AfterFunc: timers.AfterFunc, SSO: logins})
	t.Cleanup(func() { s.Close() })
	const config = "/home/u/.aws/config"
	ref := func(profile string) sso.SessionRef { return sso.SessionRef{ConfigFile: config, Profile: profile} }
	load := func(slot, profile string) {
		t.Helper()
		if _, err := s.Load(context.Background(), slot, SourceSpec{Profile: profile, ConfigFile: config}, newSlotProvider(clock, time.Hour), testSlotInfo); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want ...sso.SessionRef) {
		t.Helper()
		if got := logins.lastRetained(t); !slices.Equal(got, want) {
			t.Errorf("%s: keeper retains %v, want %v", step, got, want)
		}
	}

	load("", "dev")
	load("b", "dev")
	load("c", "prod")
	check("after three loads", ref("dev"), ref("dev"), ref("prod"))
	if err := s.Unload(""); err != nil {
		t.Fatal(err)
	}
	check("after unloading one of two dev slots", ref("dev"), ref("prod"))
	load("b", "keys") // replaced by a source of another session, or none
	check("after replacing the last dev slot", ref("keys"), ref("prod"))
	s.UnloadProfile("prod")
	check("after unloading by profile", ref("keys"))
	s.UnloadAll()
	check("after unloading all")
}

// TestSlotsSayLoginNeeded: a slot whose SSO session needs a login is
// refused with a reason and a hint that say so; the keeper was told of
// the slot's source when it was loaded.
func TestSlotsSayLoginNeeded(t *testing.T) {
	clock := newSlotClock()
	timers := &slotTimers{clock: clock}
	logins := &stubLogins{}
	s := NewSlots(SlotsConfig{Now: clock.Now, Jitter: func(time.Duration) time.Duration { return 0 }, AfterFunc: timers.AfterFunc, SSO: logins})
	t.Cleanup(func() { s.Close() })
	p := newSlotProvider(clock, time.Hour)
	spec := SourceSpec{Profile: "dev", ConfigFile: "/home/u/.aws/config"}
	if _, err := s.Load(context.Background(), "", spec, p, testSlotInfo); err != nil {
		t.Fatal(err)
	}
	if want := (sso.SessionRef{ConfigFile: "/home/u/.aws/config", Profile: "dev"}); len(logins.kept) != 1 || logins.kept[0] != want {
		t.Fatalf("keeper told %v, want %v", logins.kept, want)
	}

	p.setFail(func(int64) error { return errors.New("the SSO session associated with this profile has expired") })
	clock.Advance(time.Hour - time.Minute) // inside the margin: a refresh is needed
	_, err := s.Credentials(context.Background(), "")
	var ue *UnavailableError
	if !errors.As(err, &ue) || strings.Contains(ue.Reason, "login needed") {
		t.Fatalf("without the keeper's word: %v, want an UnavailableError that does not claim a login is needed", err)
	}

	logins.mu.Lock()
	logins.needed = "the service refused the refresh token (InvalidGrantException)"
	logins.mu.Unlock()
	clock.Advance(slotSyncHoldoff)
	_, err = s.Credentials(context.Background(), "")
	if !errors.As(err, &ue) {
		t.Fatalf("Credentials: %v, want an UnavailableError", err)
	}
	if !strings.Contains(ue.Reason, "IAM Identity Center login needed: the service refused the refresh token") {
		t.Errorf("reason %q does not say a login is needed and why", ue.Reason)
	}
	if got, want := ue.Hint, "run on the workstation: aws-sso-agent login --profile dev"; got != want {
		t.Errorf("hint %q, want %q", got, want)
	}
}

// TestRestoreKeepsSSO: slots put back from the slots file are told to
// the SSO keeper, as loaded ones are, so a restart does not leave an SSO
// slot to expire unrefreshed.
func TestRestoreKeepsSSO(t *testing.T) {
	state := t.TempDir() + "/slots.json"
	saved := []SavedSlot{
		{Slot: "", Spec: SourceSpec{Profile: "dev", ConfigFile: "/home/u/.aws/config"}},
		{Slot: "prod", Spec: SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "Admin", ConfigFile: "/home/u/.aws/config"}},
	}
	if err := WriteSlotState(state, saved); err != nil {
		t.Fatal(err)
	}
	logins := &stubLogins{}
	s := NewSlots(SlotsConfig{StateFile: state, SSO: logins})
	t.Cleanup(func() { s.Close() })
	if _, err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	logins.mu.Lock()
	defer logins.mu.Unlock()
	if len(logins.kept) != len(saved) {
		t.Fatalf("keeper told %v, want one ref for each of %d restored slots", logins.kept, len(saved))
	}
	for i, sv := range saved {
		if got, want := logins.kept[i], ssoRef(sv.Spec); got != want {
			t.Errorf("keeper told %v for slot %q, want %v", got, sv.Slot, want)
		}
	}
}
