package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSessionEndReason: the holder of a session is told why it ended, by
// code: a revocation by the user matches ErrSessionRevoked, the agent
// stopping does not (a new session may follow once an agent runs again).
func TestSessionEndReason(t *testing.T) {
	ended := func(t *testing.T, h *SessionHandle) error {
		t.Helper()
		select {
		case <-h.Done():
			return h.Err()
		case <-time.After(5 * time.Second):
			t.Fatal("the holder was not told the session ended")
			return nil
		}
	}
	t.Run("revoked by the user", func(t *testing.T) {
		env := sessionTestStart(t)
		h, err := env.client.OpenSession(context.Background(), "alice@host", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if _, err := env.client.Do(context.Background(), ControlRequest{Op: OpSessionRevoke, Session: &SessionRequest{ID: h.Grant.ID}}); err != nil {
			t.Fatal(err)
		}
		err = ended(t, h)
		var ce *ControlError
		if !errors.Is(err, ErrSessionRevoked) || !errors.As(err, &ce) || ce.Code != CodeRevoked || !strings.Contains(err.Error(), "revoked by the user") {
			t.Errorf("holder told %#v, want code %q saying revoked by the user", err, CodeRevoked)
		}
	})
	t.Run("agent stopping", func(t *testing.T) {
		env := sessionTestStart(t)
		h, err := env.client.OpenSession(context.Background(), "alice@host", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		env.sessions.CloseAll()
		err = ended(t, h)
		if errors.Is(err, ErrSessionRevoked) || !errors.Is(err, ErrNoSession) || !strings.Contains(err.Error(), "stopping") {
			t.Errorf("holder told %v, want ErrNoSession saying the agent is stopping, not a revocation", err)
		}
	})
	t.Run("agent gone without a word", func(t *testing.T) {
		// What a killed agent leaves: the grant, then the connection
		// closes with no reason.
		path := filepath.Join(t.TempDir(), "control.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			var req ControlRequest
			json.NewDecoder(c).Decode(&req)
			json.NewEncoder(c).Encode(ControlResponse{Session: &SessionGrant{ID: "00ff"}})
		}()
		h, err := (ControlClient{Path: path}).OpenSession(context.Background(), "alice@host", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if err := ended(t, h); err == nil || errors.Is(err, ErrSessionRevoked) {
			t.Errorf("holder told %v: a lost agent is not a revocation", err)
		}
	})
}
