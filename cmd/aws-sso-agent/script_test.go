package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run aws-sso-agent as a command: testscript
// re-executes this test binary under that name, and main's run does the
// rest, as the installed binary would.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"aws-sso-agent": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: what a person types
// and sees, end to end, without a running agent unless a script starts one.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Every script gets its own agent directories and home.
			env.Setenv("AWS_SSO_AGENT_HOME", env.WorkDir+"/agent")
			env.Setenv("HOME", env.WorkDir+"/home")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waitagent waits until a background serve answers on its
			// control socket.
			"waitagent": func(ts *testscript.TestScript, neg bool, args []string) {
				sock := filepath.Join(ts.Getenv("AWS_SSO_AGENT_HOME"), "run", "control.sock")
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					if c, err := net.Dial("unix", sock); err == nil {
						c.Close()
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				ts.Fatalf("no agent on %s after 30s", sock)
			},
		},
	})
}
