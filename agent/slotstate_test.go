package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

func TestSlotStateRoundTrip(t *testing.T) {
	saved := []SavedSlot{
		{Slot: "ops", Spec: SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "Admin"}},
		{Slot: "", Spec: SourceSpec{Profile: "dev", ConfigFile: "/home/me/.aws/config", CredentialsFile: "/home/me/.aws/credentials"}},
	}
	data, err := MarshalSlotState(saved)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"slot": "default"`) {
		t.Errorf("the default slot is not written as people name it:\n%s", data)
	}
	got, err := ParseSlotState(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []SavedSlot{saved[1], saved[0]} // default slot first
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseSlotStateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not json", `slots`, "invalid character"},
		{"no version", `{"slots": []}`, "no version"},
		{"newer version", `{"version": 2, "slots": []}`, "newer agent"},
		{"unknown field", `{"version": 1, "slots": [{"slot": "a", "profile": "p", "secret_access_key": "x"}]}`, "unknown field"},
		{"trailing data", `{"version": 1, "slots": []} {}`, "data after"},
		{"twice", `{"version": 1, "slots": [{"slot": "a", "profile": "p"}, {"slot": "a", "profile": "q"}]}`, "given twice"},
		{"bad slot", `{"version": 1, "slots": [{"slot": "a/b", "profile": "p"}]}`, "slot name"},
		{"empty slot", `{"version": 1, "slots": [{"slot": "", "profile": "p"}]}`, "slot name is empty"},
		{"no source", `{"version": 1, "slots": [{"slot": "a"}]}`, "name a profile"},
		{"both sources", `{"version": 1, "slots": [{"slot": "a", "profile": "p", "sso_session": "s", "account_id": "111122223333", "role_name": "r"}]}`, "not both"},
		{"ini injection", `{"version": 1, "slots": [{"slot": "a", "sso_session": "s]\n[x", "account_id": "111122223333", "role_name": "r"}]}`, "sso session name"},
		{"relative config", `{"version": 1, "slots": [{"slot": "a", "profile": "p", "config_file": "aws/config"}]}`, "absolute path"},
		{"too large", `{"version": 1, "slots": [` + strings.Repeat(" ", maxSlotState) + `]}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSlotState([]byte(tc.data))
			if !errors.Is(err, ErrSlotState) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrSlotState saying %q", err, tc.want)
			}
		})
	}
}

// TestSlotsRecordAndRestore: loads and unloads rewrite the slots file
// (0600, no secret); a new Slots restores what it says, a source that
// cannot load shows its error and stays, and an unloaded slot is gone.
func TestSlotsRecordAndRestore(t *testing.T) {
	sourceIsolate(t)
	const secret = "static-secret-of-dev"
	dev := sourceFiles(t, "dev", "[profile dev]\nregion = eu-west-1\n[profile ops]\nregion = eu-west-1\n",
		"[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = "+secret+"\n"+
			"[ops]\naws_access_key_id = AKIASTATICOPS\naws_secret_access_key = static-secret-of-ops\n")
	ops := dev
	ops.Profile = "ops"
	state := filepath.Join(t.TempDir(), "slots.json")
	ctx := context.Background()

	s := NewSlots(SlotsConfig{StateFile: state})
	for name, spec := range map[string]SourceSpec{"": dev, "ops": ops} {
		if _, err := s.LoadSource(ctx, name, spec); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o600 {
		t.Errorf("slots file mode %04o, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(string(data), secret) || strings.Contains(string(data), "AKIASTATICDEV") {
		t.Errorf("the slots file holds credentials:\n%s", data)
	}

	restore := func() *Slots {
		t.Helper()
		s := NewSlots(SlotsConfig{StateFile: state})
		t.Cleanup(func() { s.Close() })
		if _, err := s.Restore(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s = restore()
	for _, name := range []string{"", "ops"} {
		c, err := s.Credentials(ctx, name)
		if err != nil {
			t.Fatalf("slot %q after restore: %v", name, err)
		}
		if want := map[string]string{"": "AKIASTATICDEV", "ops": "AKIASTATICOPS"}[name]; c.AccessKeyID != want {
			t.Errorf("slot %q serves %s, want %s", name, c.AccessKeyID, want)
		}
	}
	if got := s.List(); len(got) != 2 || got[0].Description != "profile dev (static keys)" || !got[1].Servable {
		t.Errorf("list after restore: %+v", got)
	}

	// The profile disappears from the config: the slot stays, with why.
	if err := os.WriteFile(ops.ConfigFile, []byte("[profile dev]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ops.CredentialsFile, []byte("[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = restore()
	_, err = s.Credentials(ctx, "ops")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "no such profile") || ue.Hint == "" {
		t.Errorf("broken slot: got %v, want *UnavailableError saying no such profile, with a hint", err)
	}
	list := s.List()
	if len(list) != 2 || list[1].Name != "ops" || list[1].Servable || !strings.Contains(list[1].LastError, "no such profile") {
		t.Errorf("list with a broken slot: %+v", list)
	}
	if _, err := s.Credentials(ctx, ""); err != nil {
		t.Errorf("the good slot beside a broken one: %v", err)
	}

	// Unload forgets the broken slot; the next start has only dev.
	if err := s.Unload("ops"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = restore()
	if got := s.List(); len(got) != 1 || got[0].Name != "" {
		t.Errorf("after unload and restart: %+v, want the default slot alone", got)
	}
}

// TestSlotsBrokenSourceRecovers: a restored slot whose profile was
// broken at start serves once the profile is fixed, with no reload.
func TestSlotsBrokenSourceRecovers(t *testing.T) {
	sourceIsolate(t)
	spec := sourceFiles(t, "dev", "[profile dev]\nregion = eu-west-1\n", "")
	state := filepath.Join(t.TempDir(), "slots.json")
	if err := WriteSlotState(state, []SavedSlot{{Slot: "dev", Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	s := NewSlots(SlotsConfig{StateFile: state})
	defer s.Close()
	if _, err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	slotWaitFor(t, func() bool { l := s.List(); return len(l) == 1 && l[0].LastError != "" })
	if _, err := s.Credentials(ctx, "dev"); err == nil {
		t.Fatal("a profile without credentials served")
	}
	if err := os.WriteFile(spec.CredentialsFile, []byte("[dev]\naws_access_key_id = AKIAFIXED\naws_secret_access_key = fixed-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Past the hold-off of the failed attempt, a request tries again.
	var c Credentials
	var err error
	slotWaitFor(t, func() bool { c, err = s.Credentials(ctx, "dev"); return err == nil })
	if c.AccessKeyID != "AKIAFIXED" {
		t.Errorf("served %s, want AKIAFIXED", c.AccessKeyID)
	}
	if l := s.List(); l[0].Description != "profile dev (static keys)" || l[0].LastError != "" {
		t.Errorf("status after recovery: %+v", l[0])
	}
}

func FuzzParseSlotState(f *testing.F) {
	fuzztest.Start(f)
	good, err := MarshalSlotState([]SavedSlot{
		{Slot: "", Spec: SourceSpec{Profile: "dev", ConfigFile: "/c"}},
		{Slot: "ops", Spec: SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "Admin"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"slots":[]}`))
	f.Add([]byte(`{"version":1,"slots":[{"slot":"a","profile":"p"},{"slot":"a","profile":"p"}]}`))
	f.Add([]byte(`{"version":1,"slots":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		saved, err := ParseSlotState(data)
		if err != nil {
			if !errors.Is(err, ErrSlotState) {
				t.Fatalf("error %v does not match ErrSlotState", err)
			}
			return
		}
		// What parses is valid and survives a round trip unchanged.
		seen := map[string]bool{}
		for _, s := range saved {
			if err := s.Spec.Validate(); err != nil {
				t.Fatalf("accepted an invalid spec %+v: %v", s.Spec, err)
			}
			if seen[s.Slot] {
				t.Fatalf("accepted slot %q twice", s.Slot)
			}
			seen[s.Slot] = true
		}
		again, err := MarshalSlotState(saved)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSlotState(again)
		if err != nil {
			t.Fatalf("a marshalled state does not parse: %v\n%s", err, again)
		}
		if len(back) != len(saved) {
			t.Fatalf("round trip: %d slots, then %d", len(saved), len(back))
		}
	})
}

// TestSlotsRecordFollowsLastChange: however loads and unloads race, the
// slots file ends as the slots are; unload by profile and unload of all
// rewrite it too.
func TestSlotsRecordFollowsLastChange(t *testing.T) {
	sourceIsolate(t)
	spec := sourceFiles(t, "dev", "[profile dev]\nregion = eu-west-1\n",
		"[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = static-secret\n")
	state := filepath.Join(t.TempDir(), "slots.json")
	s := NewSlots(SlotsConfig{StateFile: state})
	defer s.Close()
	ctx := context.Background()
	recorded := func() []string {
		t.Helper()
		saved, err := ReadSlotState(state)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sv := range saved {
			names = append(names, sv.Slot)
		}
		return names
	}
	loaded := func() []string {
		var names []string
		for _, st := range s.List() {
			names = append(names, st.Name)
		}
		return names
	}

	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			name := fmt.Sprintf("s%d", i%4)
			for range 5 {
				s.LoadSource(ctx, name, spec)
				if i%2 == 0 {
					s.Unload(name)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got, want := recorded(), loaded(); !reflect.DeepEqual(got, want) {
		t.Errorf("after racing loads and unloads the file records %v, the slots are %v", got, want)
	}

	for _, name := range []string{"", "a", "b"} {
		if _, err := s.LoadSource(ctx, name, spec); err != nil {
			t.Fatal(err)
		}
	}
	s.UnloadProfile("dev")
	if got := recorded(); len(got) != 0 {
		t.Errorf("after unload --profile dev the file records %v", got)
	}
	if _, err := s.LoadSource(ctx, "a", spec); err != nil {
		t.Fatal(err)
	}
	s.UnloadAll()
	if got := recorded(); len(got) != 0 {
		t.Errorf("after unload --all the file records %v", got)
	}
}

func TestReadSlotStateRefusesWritableByOthers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: access is the profile directory's ACL, not mode bits")
	}
	path := filepath.Join(t.TempDir(), "slots.json")
	if err := WriteSlotState(path, []SavedSlot{{Slot: "a", Spec: SourceSpec{Profile: "p"}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSlotState(path); err == nil || !strings.Contains(err.Error(), "others may write it") {
		t.Errorf("a slots file others may write: %v, want a refusal", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if saved, err := ReadSlotState(path); err != nil || len(saved) != 1 {
		t.Errorf("after chmod 600: %v, %v", saved, err)
	}
}

// TestSlotsRestoredWaitTimesOut: a request that stops waiting for a
// restored slot's first attempt reads the slot's description and hint
// while that attempt sets them (run with -race).
func TestSlotsRestoredWaitTimesOut(t *testing.T) {
	sourceIsolate(t)
	script := sourceProcessScript(t, "sleep 1\nexit 1\n")
	spec := sourceFiles(t, "slow", "[profile slow]\ncredential_process = "+script+"\n", "")
	state := filepath.Join(t.TempDir(), "slots.json")
	if err := WriteSlotState(state, []SavedSlot{{Slot: "slow", Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	// The attempt schedules its retry once it has set the slot's info:
	// the test waits for that, not by reading the slot, which would
	// order the request's reads before the attempt's writes.
	attempted := make(chan struct{}, 1)
	s := NewSlots(SlotsConfig{StateFile: state, RequestWait: time.Millisecond,
		AfterFunc: func(time.Duration, func()) func() bool {
			select {
			case attempted <- struct{}{}:
			default:
			}
			return func() bool { return true }
		}})
	defer s.Close()
	if _, err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	var ue *UnavailableError
	if _, err := s.Credentials(context.Background(), "slow"); !errors.As(err, &ue) {
		t.Fatalf("got %v, want *UnavailableError", err)
	}
	<-attempted
	if l := s.List(); l[0].Description != "profile slow (credential_process)" {
		t.Errorf("status after the attempt: %+v", l[0])
	}
}

// TestSlotsRestoredRoleMoto: a restored slot's first credentials carry
// the role and account its profile names, as a loaded slot's do.
func TestSlotsRestoredRoleMoto(t *testing.T) {
	motoURL := sourceStartMoto(t)
	sourceIsolate(t)
	const roleARN = "arn:aws:iam::123456789012:role/agent-test"
	cfgText := fmt.Sprintf(`[profile base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
[profile chain]
role_arn = %s
source_profile = base
region = us-east-1
services = moto
[services moto]
sts =
  endpoint_url = %s
`, roleARN, motoURL)
	spec := sourceFiles(t, "chain", cfgText, "")
	state := filepath.Join(t.TempDir(), "slots.json")
	if err := WriteSlotState(state, []SavedSlot{{Slot: "chain", Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	s := NewSlots(SlotsConfig{StateFile: state})
	defer s.Close()
	if _, err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	c, err := s.Credentials(context.Background(), "chain")
	if err != nil {
		t.Fatal(err)
	}
	if c.RoleARN != roleARN || c.AccountID != "123456789012" {
		t.Errorf("restored slot serves role %q account %q, want %q and 123456789012", c.RoleARN, c.AccountID, roleARN)
	}
}
