package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// TestServerInProcess runs the whole agent in the test: it loads a
// static-keys profile through the control socket, reads the credentials
// from the endpoint with the token, and stops, leaving nothing open.
func TestServerInProcess(t *testing.T) {
	sourceIsolate(t)
	spec := sourceFiles(t, "dev", "[profile dev]\nregion = eu-west-1\n",
		"[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = static-secret\n")
	root := t.TempDir()
	d := Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")}
	st := store.NewMemory()
	srv, err := NewServer(ServerConfig{
		Dirs:             d,
		Store:            st,
		Public:           &public.Public{Store: st, Dir: filepath.Join(d.Config, "public")},
		IP:               net.IPv4(127, 0, 0, 1),
		Port:             0,
		Version:          "test",
		StoreDescription: "memory",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	for _, f := range []string{d.TokenFile(), d.CARoot(), d.CABundle()} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("NewServer did not write %s: %v", f, err)
		}
	}
	c := ControlClient{Path: d.ControlSocket()}
	resp, err := c.Do(ctx, ControlRequest{Op: OpLoad, Load: &LoadRequest{
		Profile: "dev", ConfigFile: spec.ConfigFile, CredentialsFile: spec.CredentialsFile}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Slot.Source, "profile dev (static keys)"; got != want {
		t.Errorf("load: source %q, want %q", got, want)
	}
	resp, err = c.Do(ctx, ControlRequest{Op: OpStatus})
	if err != nil {
		t.Fatal(err)
	}
	status := resp.Status
	if status.Version != "test" || status.Store != "memory" || status.TokenFile != d.TokenFile() ||
		status.LeafExpires.IsZero() || len(status.Slots) != 1 || status.PublicFQDN != "" {
		t.Errorf("status = %+v, want version, store, token file, leaf expiry and one slot", status)
	}
	if _, err := c.Do(ctx, ControlRequest{Op: OpUnload, Unload: &UnloadRequest{Slot: "absent"}}); !errors.Is(err, ErrNoSlot) ||
		ErrorHint(err) != "see what is loaded with: aws-sso-agent list" {
		t.Errorf("unload absent: %v (hint %q), want ErrNoSlot with the list hint", err, ErrorHint(err))
	}

	token, err := os.ReadFile(d.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", status.URL, nil)
	req.Header.Set("Authorization", string(token))
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	var doc struct{ AccessKeyId string }
	if err := json.Unmarshal(body, &doc); hr.StatusCode != 200 || err != nil || doc.AccessKeyId != "AKIASTATICDEV" {
		t.Fatalf("GET %s: %d %s, want the profile's keys", status.URL, hr.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := os.Stat(d.TokenFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file after stop: %v, want it removed", err)
	}
	if _, err := c.Do(context.Background(), ControlRequest{Op: OpStatus}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("control after stop: %v, want ErrNotRunning", err)
	}
	if c, err := net.DialTimeout("tcp", status.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("endpoint %s still accepts after stop", status.Addr)
	}
	if got := srv.slots.List(); len(got) != 0 {
		t.Errorf("slots after stop: %v, want none", got)
	}
}

// TestServerPortTaken: a port already held is a *ListenError, and
// nothing NewServer made stays behind.
func TestServerPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	root := t.TempDir()
	d := Dirs{Config: filepath.Join(root, "config"), Runtime: filepath.Join(root, "run")}
	_, err = NewServer(ServerConfig{Dirs: d, Store: store.NewMemory(), IP: net.IPv4(127, 0, 0, 1), Port: l.Addr().(*net.TCPAddr).Port})
	var le *ListenError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *ListenError", err)
	}
	if _, err := os.Stat(d.TokenFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file after a failed start: %v, want none", err)
	}
	if _, err := (ControlClient{Path: d.ControlSocket()}).Do(context.Background(), ControlRequest{Op: OpStatus}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("control socket after a failed start: %v, want ErrNotRunning", err)
	}
}
