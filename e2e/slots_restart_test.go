package e2e

import (
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// statusSlot is a slot as `status --json` shows it.
type statusSlot struct {
	Name      string `json:"name"`
	Source    string `json:"source"`
	LastError string `json:"last_error"`
	Servable  bool   `json:"servable"`
}

// slotsOf reads the slots of `status --json`.
func (a *agentUnderTest) slotsOf() map[string]statusSlot {
	a.t.Helper()
	var st struct {
		Slots []statusSlot `json:"slots"`
	}
	if err := json.Unmarshal([]byte(a.mustCLI(nil, "status", "--json")), &st); err != nil {
		a.t.Fatal(err)
	}
	out := map[string]statusSlot{}
	for _, s := range st.Slots {
		out[s.Name] = s
	}
	return out
}

// waitSlots waits until every slot of `status --json` has either loaded
// or failed: restoring does not hold up the agent's start.
func (a *agentUnderTest) waitSlots(t *testing.T, n int) map[string]statusSlot {
	t.Helper()
	var slots map[string]statusSlot
	e2e.WaitFor(t, func() bool {
		slots = a.slotsOf()
		if len(slots) != n {
			return false
		}
		for _, s := range slots {
			if !s.Servable && s.LastError == "" {
				return false
			}
		}
		return true
	}, 60*time.Second)
	return slots
}

// TestSlotsSurviveRestart: serve, load two slots, stop; a new `serve` of
// the same home loads both again, with an environment that names no AWS
// config (the slots file recorded it), and the SDKs get each slot's role
// from moto. A profile broken meanwhile shows its error in status while
// the agent serves the other slot; unload forgets it across restarts.
func TestSlotsSurviveRestart(t *testing.T) {
	moto := e2e.StartMoto(t)
	dev := e2e.RoleProfile{Name: "dev", Role: "dev-role", Session: "dev-session"}
	ops := e2e.RoleProfile{Name: "ops", Role: "ops-role", Session: "ops-session"}
	awsDir := t.TempDir()
	cfg := e2e.WriteAWSConfig(t, awsDir, moto, dev, ops)

	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", "dev")
	a.mustCLI(cfg.Env(), "load", "--profile", "ops", "--slot=operations")
	state := filepath.Join(a.home, "config", "slots.json")
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("no slots file after two loads: %v", err)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o600 {
		t.Errorf("slots file mode %04o, want 0600", fi.Mode().Perm())
	}
	for _, secret := range []string{e2e.StaticSecretAccessKey, e2e.StaticAccessKeyID, "ASIA"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the slots file holds %q:\n%s", secret, data)
		}
	}
	if err := a.proc.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restart with no AWS_CONFIG_FILE in the environment.
	a = startAgent(t, agentOptions{home: a.home})
	slots := a.waitSlots(t, 2)
	for name, s := range slots {
		if !s.Servable {
			t.Errorf("slot %s after restart: not servable: %s", name, s.LastError)
		}
	}
	cli := e2e.Clients()[0] // the AWS CLI
	for _, tt := range []struct {
		args []string
		want string
	}{{nil, dev.AssumedRoleARN()}, {[]string{"--slot", "operations"}, ops.AssumedRoleARN()}} {
		vars := exports(t, a.mustCLI(nil, append([]string{"env"}, tt.args...)...))
		got, err := cli.Run(t, clientEnv(t, moto, vars))
		if err != nil {
			t.Fatalf("%s %v after restart: %v", cli.Name, tt.args, err)
		}
		if got != tt.want {
			t.Errorf("%s %v after restart: got %q, want %q", cli.Name, tt.args, got, tt.want)
		}
	}
	if err := a.proc.Stop(); err != nil {
		t.Fatal(err)
	}

	// The ops profile leaves the config: the agent still starts, serves
	// dev, and status says what is wrong with operations.
	e2e.WriteAWSConfig(t, awsDir, moto, dev)
	a = startAgent(t, agentOptions{home: a.home})
	slots = a.waitSlots(t, 2)
	if s := slots["default"]; !s.Servable {
		t.Errorf("default slot beside a broken one: %+v", s)
	}
	if s := slots["operations"]; s.Servable || !strings.Contains(s.LastError, "no such profile") {
		t.Errorf("broken slot in status --json: %+v, want unservable with no such profile", s)
	}
	if text := a.mustCLI(nil, "status"); !strings.Contains(text, "operations") || !strings.Contains(text, "no such profile") {
		t.Errorf("status does not show the broken slot's error:\n%s", text)
	}
	vars := exports(t, a.mustCLI(nil, "env"))
	if got, err := cli.Run(t, clientEnv(t, moto, vars)); err != nil || got != dev.AssumedRoleARN() {
		t.Errorf("default slot beside a broken one: %q, %v", got, err)
	}
	// A client of the broken slot gets a 503 that says why, and that it
	// recovers by itself once the source is fixed.
	vars = exports(t, a.mustCLI(nil, "env", "--slot", "operations"))
	code, body := get(t, e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), nil)
	if code != 503 || !strings.Contains(body, "did not load when the agent started") || !strings.Contains(body, "no reload needed") {
		t.Errorf("broken slot: %d %s", code, body)
	}

	a.mustCLI(nil, "unload", "--slot", "operations")
	if err := a.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	a = startAgent(t, agentOptions{home: a.home})
	slots = a.waitSlots(t, 1)
	if _, ok := slots["default"]; !ok {
		t.Errorf("after unload and restart: %+v, want the default slot alone", slots)
	}
}

// TestSlotsFileInvalid: a slots file that does not parse stops no agent;
// it is moved aside and status says why.
func TestSlotsFileInvalid(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(home, "config", "slots.json")
	if err := os.WriteFile(state, []byte(`{"version": 1, "slots": [{"slot": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, agentOptions{home: home})
	text := a.mustCLI(nil, "status")
	if !strings.Contains(text, "slots file:  not restored") || !strings.Contains(text, state+".invalid") {
		t.Errorf("status does not say the slots file was set aside:\n%s", text)
	}
	if _, err := os.Stat(state + ".invalid"); err != nil {
		t.Errorf("the invalid slots file was not moved aside: %v", err)
	}
}

// TestRoleSessionName: a profile without role_session_name, loaded into
// a running agent, gives credentials whose identity, as the AWS CLI's
// get-caller-identity reads it from moto, is the session
// aws-sso-agent-USER: what CloudTrail shows.
func TestRoleSessionName(t *testing.T) {
	moto := e2e.StartMoto(t)
	p := e2e.RoleProfile{Name: "unnamed", Role: "unnamed-role"}
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto, p)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, agentOptions{})
	a.mustCLI(cfg.Env(), "load", "--profile", p.Name)
	vars := exports(t, a.mustCLI(nil, "env"))
	cli := e2e.Clients()[0]
	got, err := cli.Run(t, clientEnv(t, moto, vars))
	if err != nil {
		t.Fatal(err)
	}
	if want := e2e.AssumedRoleARN(p.Role, "aws-sso-agent-"+u.Username); got != want {
		t.Errorf("%s: got %q, want %q", cli.Name, got, want)
	}
}
