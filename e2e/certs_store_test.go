package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/testca"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// clearAgentKeyring removes every key the agent keeps in the OS keyring
// (service aws-sso-agent) of this session.
func clearAgentKeyring(t testing.TB) {
	t.Helper()
	k := store.NewKeyring("aws-sso-agent")
	for _, name := range []string{localca.IntermediateKeyName, public.KeyName, public.PendingKeyName, acme.AccountKeyName, acme.TSIGSecretName} {
		if err := k.Delete(name); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("clear the keyring: %v", err)
		}
	}
}

// withoutBus is env with no session bus: a command run with it cannot
// reach the Secret Service itself.
func withoutBus(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestCertsUseAgentStore: with an agent running, `certs export-csr`,
// `certs load` and `certs delete` work with no store flags, no passphrase
// and no session bus: they go through the agent's control socket to the
// store the agent opened once. The CLI here could not open either store
// itself (the file store needs a passphrase it has no terminal to ask
// for; the keyring needs a bus it does not have), so success means the
// agent's store did the work. The keyring case uses a real Secret
// Service (scripts/with-secret-service).
func TestCertsUseAgentStore(t *testing.T) {
	const fqdn = "agent.example.test"
	for _, store := range []string{"file", "keyring"} {
		t.Run(store, func(t *testing.T) {
			if store == "keyring" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
				e2e.PeerMissing(t, "no Secret Service: run under scripts/with-secret-service")
			}
			if store == "keyring" {
				// The session's keyring is shared by the tests: start
				// from none of the agent's keys, and leave none.
				clearAgentKeyring(t)
				t.Cleanup(func() { clearAgentKeyring(t) })
			}
			ca := testca.New(t, "Store Test Root")
			home := t.TempDir()
			roots := filepath.Join(home, "roots.pem")
			if err := os.WriteFile(roots, ca.RootPEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			a := startAgent(t, agentOptions{store: store, home: home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + roots}})
			env := withoutBus(a.env)
			storeFile := filepath.Join(home, "config", "store.age")
			before, _ := os.ReadFile(storeFile)

			csrFile := filepath.Join(home, "agent.csr")
			out, errOut, code := runCLI(t, env, "certs", "export-csr", "--fqdn", fqdn, "--out", csrFile)
			if code != 0 {
				t.Fatalf("certs export-csr with the agent running: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, "its key stays in the secure store") {
				t.Errorf("export-csr said:\n%s", errOut)
			}
			if store == "file" {
				after, _ := os.ReadFile(storeFile)
				if bytes.Equal(before, after) {
					t.Error("the agent's file store did not change: the pending key is not in it")
				}
			}
			csr, err := os.ReadFile(csrFile)
			if err != nil {
				t.Fatal(err)
			}
			chainFile := filepath.Join(home, "chain.pem")
			if err := os.WriteFile(chainFile, ca.SignCSR(t, csr), 0o644); err != nil {
				t.Fatal(err)
			}
			// load finds the pending key in the agent's store: it was made
			// there, not here.
			out, errOut, code = runCLI(t, env, "certs", "load", chainFile)
			if code != 0 || !strings.Contains(out, "installed the certificate for "+fqdn+" from Store Test Root") {
				t.Fatalf("certs load with the agent running: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, "the running agent does not serve "+fqdn) {
				t.Errorf("certs load does not report the agent's view (the name does not resolve):\n%s", errOut)
			}
			if got := a.status()["public_fqdn"]; got != fqdn {
				t.Errorf("the agent's public name after load: %v, want %s", got, fqdn)
			}

			// Store flags that name another store than the agent's are
			// refused rather than silently ignored.
			other := map[string]string{"file": "keyring", "keyring": "file"}[store]
			out, errOut, code = runCLI(t, env, "certs", "delete", "--yes", "--store", other)
			if code != 2 || !strings.Contains(errOut, "the running agent keeps its keys in the") {
				t.Errorf("certs delete --store %s against a %s agent: exit %d\n%s%s", other, store, code, out, errOut)
			}

			out, errOut, code = runCLI(t, env, "certs", "delete", "--yes")
			if code != 0 || !strings.Contains(errOut, "the running agent now serves its loopback names only") {
				t.Fatalf("certs delete with the agent running: exit %d\n%s%s", code, out, errOut)
			}
			if st := a.status(); st["public_fqdn"] != nil {
				t.Errorf("status after delete still shows the name: %v", st)
			}

			// With the agent stopped, the same command opens the store
			// itself, and without a passphrase or a bus it cannot.
			if err := a.proc.Stop(); err != nil {
				t.Fatal(err)
			}
			_, errOut, code = runCLI(t, env, "certs", "export-csr", "--fqdn", fqdn, "--store", store, "--out", csrFile)
			if code == 0 {
				t.Errorf("export-csr without an agent, passphrase or bus succeeded:\n%s", errOut)
			}
		})
	}
}
