package main

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// TestCertsByAgentStatusMissing: a peer on the control socket that
// answers status without one is an error, not a panic.
func TestCertsByAgentStatusMissing(t *testing.T) {
	t.Setenv(agent.HomeEnv, t.TempDir())
	d, err := agent.DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.EnsurePrivateDir(d.Runtime); err != nil {
		t.Fatal(err)
	}
	l, err := agent.ListenControl(d.ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(conn).ReadString('\n')
			io.WriteString(conn, "{}\n")
			conn.Close()
		}
	}()
	c := &cli{stdout: io.Discard, stderr: io.Discard}
	sf := &storeFlags{backend: "file", explicit: true}
	_, err = c.certsByAgent(sf, agent.CertsRequest{Action: agent.CertsDelete})
	if err == nil || !strings.Contains(err.Error(), "without its status") {
		t.Errorf("got %v, want an error saying the agent answered without its status", err)
	}
}
