package wire_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// hostile are values that break naive quoting in at least one shell.
var hostile = map[string]string{
	"V_QUOTES":    `it's "quoted" ‘curly’ ’x‛ ‚y`,
	"V_BANG":      `a!b !! !$ !-1 \!`,
	"V_DOLLAR":    `$HOME ${HOME} $(id) $1 $$`,
	"V_BACKSLASH": `\ \\ \' \" \n \t trailing\`,
	"V_BACKTICK":  "`id` ; rm -rf / # & | < > * ? [a] ~ %s {a,b}",
	"V_SPACES":    "  lead and trail  \t tab ",
	"V_UNICODE":   "snow ☃ and é",
	"V_EMPTY":     "",
	"V_URL":       "https://127.0.0.1:4144/slot/a%20b?x=1&y=2",
}

// requirePeer skips when a shell is missing, or fails if the run demands
// every peer (AWS_SSO_AGENT_REQUIRE_PEERS, as the other peer tests do).
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		e2e.PeerMissing(t, "%s is not installed, so its exports are not evaluated (scripts/install-test-peers): %v", name, err)
	}
	return path
}

// TestExportsEvaluated has each real shell evaluate the exports the way
// the docs tell users to, then print its environment NUL-separated, and
// checks every variable came out byte for byte and the unset ones are
// gone.
func TestExportsEvaluated(t *testing.T) {
	var set []wire.Var
	for k, v := range hostile {
		set = append(set, wire.Var{Name: k, Value: v})
	}
	unset := []string{"GONE_A", "GONE_B", "GONE_NEVER_SET"}
	tests := []struct {
		shell, binary string
		// args run the exports, which are in the file named by $EXPORTS,
		// as the docs say to, then print the environment.
		args []string
	}{
		{"sh", "dash", []string{"-c", `eval "$(cat "$EXPORTS")" && env -0`}},
		{"bash", "bash", []string{"--norc", "--noprofile", "-c", `eval "$(cat "$EXPORTS")" && env -0`}},
		{"zsh", "zsh", []string{"-f", "-c", `eval "$(cat "$EXPORTS")" && env -0`}},
		// fish's status after source is that of "set -e" on an unset
		// variable (4), so env runs regardless; the values are checked.
		{"fish", "fish", []string{"--no-config", "-c", `cat $EXPORTS | source; env -0`}},
		// tcsh is the csh of every current system; -f skips ~/.tcshrc.
		{"csh", "tcsh", []string{"-f", "-c", `eval "` + "`cat $EXPORTS`" + `" && env -0`}},
		{"tcsh", "tcsh", []string{"-f", "-c", `eval "` + "`cat $EXPORTS`" + `" && env -0`}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			path := requirePeer(t, tt.binary)
			sh, ok := wire.ParseShell(tt.shell)
			if !ok {
				t.Fatalf("ParseShell(%q) failed", tt.shell)
			}
			out, err := sh.Exports(set, unset)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "exports")
			if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(path, tt.args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "EXPORTS=" + file,
				"GONE_A=still here", "GONE_B=x"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\nstderr: %s\nexports:\n%s", tt.binary, err, stderr.String(), out)
			}
			env := map[string]string{}
			for _, kv := range strings.Split(string(got), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
			for k, want := range hostile {
				if v, ok := env[k]; !ok || v != want {
					t.Errorf("%s: %s = %q (set: %v), want %q\nexports:\n%s", tt.binary, k, v, ok, want, out)
				}
			}
			for _, k := range unset {
				if v, ok := env[k]; ok {
					t.Errorf("%s: %s = %q, want it unset", tt.binary, k, v)
				}
			}
		})
	}
}

// TestExportsPowerShell checks PowerShell's exports as text: PowerShell is
// not in Debian's archive, so no test here can run it. The expected text
// follows about_Quoting_Rules: in single quotes only the quote (and its
// typographic forms) is special, written twice.
func TestExportsPowerShell(t *testing.T) {
	sh, ok := wire.ParseShell("powershell")
	if !ok {
		t.Fatal("ParseShell(powershell) failed")
	}
	got, err := sh.Exports([]wire.Var{
		{Name: "A", Value: `it's $HOME ` + "`n" + ` "x" \ !`},
		{Name: "B", Value: "‘curly’ ‚low‛"},
		{Name: "C", Value: ""},
	}, []string{"GONE"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Remove-Item Env:GONE -ErrorAction SilentlyContinue;\n" +
		"$Env:A = 'it''s $HOME `n \"x\" \\ !';\n" +
		"$Env:B = '‘‘curly’’ ‚‚low‛‛';\n" +
		"$Env:C = '';\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestExportsText pins each shell's syntax, so a change shows in review.
func TestExportsText(t *testing.T) {
	vars := []wire.Var{{Name: "U", Value: "a'b!c"}}
	tests := []struct{ shell, want string }{
		{"sh", "unset G;\nexport U='a'\\''b!c';\n"},
		{"bash", "unset G;\nexport U='a'\\''b!c';\n"},
		{"zsh", "unset G;\nexport U='a'\\''b!c';\n"},
		{"fish", "set -e G;\nset -gx U 'a\\'b!c';\n"},
		{"csh", "unsetenv G;\nsetenv U 'a'\\''b\\!c';\n"},
		{"tcsh", "unsetenv G;\nsetenv U 'a'\\''b\\!c';\n"},
		{"powershell", "Remove-Item Env:G -ErrorAction SilentlyContinue;\n$Env:U = 'a''b!c';\n"},
	}
	for _, tt := range tests {
		sh, ok := wire.ParseShell(tt.shell)
		if !ok {
			t.Fatalf("ParseShell(%q) failed", tt.shell)
		}
		got, err := sh.Exports(vars, []string{"G"})
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.shell, got, err, tt.want)
		}
	}
}

func TestExportsRefused(t *testing.T) {
	for _, shell := range append(wire.ShellNames(), "tcsh") {
		sh, _ := wire.ParseShell(shell)
		for _, v := range []string{"a\nb", "a\rb", "a\x00b", "\n"} {
			out, err := sh.Exports([]wire.Var{{Name: "V", Value: v}}, nil)
			if !errors.Is(err, wire.ErrUnexportable) || out != "" {
				t.Errorf("%s: value %q: got %q, %v; want ErrUnexportable and no output", shell, v, out, err)
			}
		}
		for _, n := range []string{"", "1A", "A-B", "A B", "A;B", "$(x)"} {
			if _, err := sh.Exports([]wire.Var{{Name: n, Value: "v"}}, nil); err == nil {
				t.Errorf("%s: name %q accepted", shell, n)
			}
			if _, err := sh.Exports(nil, []string{n}); err == nil {
				t.Errorf("%s: unset name %q accepted", shell, n)
			}
		}
	}
	for _, name := range []string{"pwsh", "ksh", "", "SH"} {
		if _, ok := wire.ParseShell(name); ok {
			t.Errorf("ParseShell(%q) accepted", name)
		}
	}
}
