package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// controlTestServer is a control server over real Slots, with a config
// holding two profiles: dev (static keys, loads offline) and expired
// (IAM Identity Center with no cached token: its load fails with the
// aws sso login hint).
func controlTestServer(t *testing.T) (*ControlServer, LoadRequest) {
	t.Helper()
	sourceIsolate(t)
	spec := sourceFiles(t, "dev",
		"[profile dev]\nregion = eu-west-1\n"+
			"[profile expired]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n"+
			"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n",
		"[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = static-secret\n")
	slots := NewSlots(SlotsConfig{})
	t.Cleanup(func() { slots.Close() })
	return &ControlServer{Info: AgentStatus{Version: "test", PID: 42}, Slots: slots},
		LoadRequest{ConfigFile: spec.ConfigFile, CredentialsFile: spec.CredentialsFile}
}

// controlLoad is a load request for profile into slot, with the test
// config's files.
func controlLoad(base LoadRequest, profile, slot string) *LoadRequest {
	base.Profile, base.Slot = profile, slot
	return &base
}

// startControl serves a fake handler on a socket in a fresh private dir.
func startControl(t *testing.T, srv *ControlServer) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func TestControlRoundTrip(t *testing.T) {
	srv, base := controlTestServer(t)
	path := startControl(t, srv)
	c := ControlClient{Path: path}
	ctx := context.Background()

	resp, err := c.Do(ctx, ControlRequest{Op: OpLoad, Load: controlLoad(base, "dev", "dev")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Slot.Source, "profile dev (static keys)"; got != want {
		t.Errorf("load: got source %q, want %q", got, want)
	}

	_, err = c.Do(ctx, ControlRequest{Op: OpLoad, Load: controlLoad(base, "expired", "")})
	var ce *ControlError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint(), "aws-sso-agent login") || !errors.Is(err, ErrSourceFailed) {
		t.Errorf("load expired: got %v, want a source failure with the aws sso login hint", err)
	}

	if _, err := c.Do(ctx, ControlRequest{Op: OpUnload, Unload: &UnloadRequest{Slot: "absent"}}); err == nil || !strings.Contains(err.Error(), ErrNoSlot.Error()) || !errors.Is(err, ErrNoSlot) {
		t.Errorf("unload absent: got %v, want %v", err, ErrNoSlot)
	}

	resp, err = c.Do(ctx, ControlRequest{Op: OpStatus})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status == nil || resp.Status.PID != 42 || len(resp.Status.Slots) != 1 || resp.Status.Slots[0].Name != "dev" {
		t.Errorf("status: got %+v, want pid 42 and slot dev", resp.Status)
	}

	if _, err := c.Do(ctx, ControlRequest{Op: "rm -rf"}); err == nil || !strings.Contains(err.Error(), "unknown operation") {
		t.Errorf("unknown op: got %v", err)
	}
}

func TestControlSocketMode(t *testing.T) {
	path := startControl(t, &ControlServer{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode: got %04o, want 0600", got)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("socket dir mode: got %04o, want 0700", got)
	}
	if _, err := ListenControl(path); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second agent: got %v, want 'already running'", err)
	}
}

func TestControlStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed agent leaves its socket file behind.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l, err = ListenControl(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l.Close()
}

func TestControlNotRunning(t *testing.T) {
	_, err := ControlClient{Path: filepath.Join(t.TempDir(), "control.sock")}.Do(context.Background(), ControlRequest{Op: OpStatus})
	if !errors.Is(err, ErrNotRunning) {
		t.Errorf("got %v, want ErrNotRunning", err)
	}
}

func TestControlRefusesOtherUIDInjected(t *testing.T) {
	srv, base := controlTestServer(t)
	srv.PeerUID = func(net.Conn) (int, error) { return os.Getuid() + 1, nil }
	path := startControl(t, srv)
	_, err := ControlClient{Path: path}.Do(context.Background(), ControlRequest{Op: OpLoad, Load: controlLoad(base, "dev", "")})
	if err == nil || !strings.Contains(err.Error(), "refused: peer uid") || !errors.Is(err, ErrRefused) {
		t.Errorf("got %v, want a refusal", err)
	}
	if n := len(srv.Slots.List()); n != 0 {
		t.Errorf("%d slots loaded for a foreign peer", n)
	}
}

func TestControlTimeoutOnSilentPeer(t *testing.T) {
	path := startControl(t, &ControlServer{Timeout: 50 * time.Millisecond})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The agent hangs up on a peer that says nothing; it does not wait for
	// our 5 s deadline.
	buf := make([]byte, 512)
	_, err = conn.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("silent peer: agent kept the connection open past its timeout")
	}
}

func FuzzControlRequest(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte(`{"op":"load","load":{"profile":"dev","slot":"dev"}}`))
	f.Add([]byte(`{"op":"load","load":{"sso_session":"s","account_id":"1","role_name":"r"}}`))
	f.Add([]byte(`{"op":"unload","unload":{"all":true}}`))
	f.Add([]byte(`{"op":"status"}`))
	f.Add([]byte(`{"op":"load"}`))
	f.Add([]byte(`{"op":"unload","unload":{"slot":"a/b"}}`))
	f.Add([]byte(`{"op":"session-open","session":{"host":"u@h","slots":["","dev"]}}`))
	f.Add([]byte(`{"op":"session-stream","session":{"id":"00ff"}}`))
	f.Add([]byte(`{"op":"session-port","session":{"id":"00ff","port":70000}}`))
	f.Add([]byte(`{"op":"session-revoke","session":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeControlRequest(data)
		if err != nil {
			if req != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		if req.Validate() != nil {
			t.Fatal("decoded request does not validate")
		}
		switch req.Op {
		case OpLoad:
			if req.Load == nil {
				t.Fatal("load without parameters accepted")
			}
		case OpUnload:
			if req.Unload == nil {
				t.Fatal("unload without parameters accepted")
			}
		case OpSessionOpen, OpSessionStream, OpSessionRevoke, OpSessionPort:
			if req.Session == nil {
				t.Fatal("session operation without parameters accepted")
			}
		}
	})
}

// TestControlServeEndsWithIdleConnections: an ssh client keeps a
// connection dialed ahead; stopping the agent must not wait for it.
func TestControlServeEndsWithIdleConnections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- (&ControlServer{}).Serve(l) }()
	idle, err := ControlClient{Path: path}.DialStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond) // accepted, waiting for its request
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve waited for an idle connection")
	}
}
