package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// twoSessions writes two sessions with sshd pids 1001 and 1002.
func twoSessions(t *testing.T) (root string, a, b fakeagent.Session) {
	t.Helper()
	root = filepath.Join(t.TempDir(), ".aws-sso-agent")
	ca := testCA(t)
	a = fakeagent.NewSession(t, ca, 40001)
	a.SSHDPID = 1001
	b = fakeagent.NewSession(t, ca, 40002)
	b.SSHDPID = 1002
	a.Write(t, root)
	b.Write(t, root)
	return root, a, b
}

func finder(root string, env map[string]string, ancestors []int, alive ...int) *remote.Finder {
	return &remote.Finder{
		Dir:                 root,
		Getenv:              func(k string) string { return env[k] },
		Ancestors:           func() ([]int, error) { return ancestors, nil },
		TmuxClientAncestors: func() ([]int, error) { return nil, nil },
		Alive: func(pid int) bool {
			for _, p := range alive {
				if p == pid {
					return true
				}
			}
			return false
		},
	}
}

func TestFindOrder(t *testing.T) {
	root, a, b := twoSessions(t)
	tests := []struct {
		name      string
		flag      string
		env       map[string]string
		ancestors []int
		alive     []int
		want      string // session id, or "" for an error
		wantErr   string
	}{
		{name: "ancestry picks the second", ancestors: []int{500, 1002, 1}, alive: []int{1001, 1002}, want: b.ID},
		{name: "ancestry picks the first", ancestors: []int{1001, 1}, alive: []int{1001, 1002}, want: a.ID},
		{name: "ancestry wins over liveness", ancestors: []int{1001}, alive: []int{1002}, want: a.ID},
		{name: "single live session", ancestors: []int{77, 1}, alive: []int{1002}, want: b.ID},
		{name: "two live, no ancestor", ancestors: []int{77, 1}, alive: []int{1001, 1002}, wantErr: "2 live sessions"},
		{name: "none live", ancestors: []int{77, 1}, wantErr: "no live session"},
		{name: "flag wins", flag: a.ID, env: map[string]string{remote.SessionEnv: b.ID}, ancestors: []int{1002}, want: a.ID},
		{name: "env wins over ancestry", env: map[string]string{remote.SessionEnv: b.ID}, ancestors: []int{1001}, want: b.ID},
		{name: "flag names a missing session", flag: strings.Repeat("0", 32), wantErr: "no session 000"},
		{name: "flag is a path", flag: "../../etc", wantErr: "bad --session"},
		{name: "env is bad", env: map[string]string{remote.SessionEnv: "x"}, wantErr: "bad " + remote.SessionEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := finder(root, tt.env, tt.ancestors, tt.alive...).Find(tt.flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if got := remote.ExitCode(err); got != remote.ExitNoSession {
					t.Errorf("got exit code %d, want %d", got, remote.ExitNoSession)
				}
				if remote.HintOf(err) == "" {
					t.Errorf("error %v has no hint", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want session %s", err, tt.want)
			}
			if s.ID != tt.want {
				t.Fatalf("got session %s, want %s", s.ID, tt.want)
			}
			if s.Dir != filepath.Join(root, "sessions", tt.want) {
				t.Errorf("got dir %s, want it under %s", s.Dir, root)
			}
		})
	}
}

func TestFindAmbiguityListsSessions(t *testing.T) {
	root, a, b := twoSessions(t)
	_, err := finder(root, nil, nil, 1001, 1002).Find("")
	for _, id := range []string{a.ID, b.ID, "--session"} {
		if err == nil || !strings.Contains(err.Error()+remote.HintOf(err), id) {
			t.Errorf("got %v, want it to mention %s", err, id)
		}
	}
}

func TestFindNoDirectory(t *testing.T) {
	_, err := finder(filepath.Join(t.TempDir(), "none"), nil, nil).Find("")
	if remote.ExitCode(err) != remote.ExitNoSession || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v, want exit 3 saying the directory does not exist", err)
	}
}

func TestFindRefusesUnsafe(t *testing.T) {
	tests := []struct {
		name string
		harm func(t *testing.T, root, dir string)
		want string
	}{
		{"session dir 0755", func(t *testing.T, root, dir string) { chmod(t, dir, 0o755) }, "mode 0755"},
		{"session file 0644", func(t *testing.T, root, dir string) { chmod(t, filepath.Join(dir, "session.json"), 0o644) }, "mode 0644"},
		{"session file 0640", func(t *testing.T, root, dir string) { chmod(t, filepath.Join(dir, "session.json"), 0o640) }, "mode 0640"},
		{"sessions dir 0777", func(t *testing.T, root, dir string) { chmod(t, filepath.Join(root, "sessions"), 0o777) }, "mode 0777"},
		{"root dir 0711", func(t *testing.T, root, dir string) { chmod(t, root, 0o711) }, "mode 0711"},
		{"session file is a symlink", func(t *testing.T, root, dir string) {
			p := filepath.Join(dir, "session.json")
			other := filepath.Join(t.TempDir(), "elsewhere.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(other, data, 0o600)
			os.Remove(p)
			if err := os.Symlink(other, p); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"session file owned by another user", func(t *testing.T, root, dir string) {
			chownOther(t, filepath.Join(dir, "session.json"))
		}, "is owned by uid"},
		{"sessions dir owned by another user", func(t *testing.T, root, dir string) {
			chownOther(t, filepath.Join(root, "sessions"))
		}, "is owned by uid"},
		{"id does not match the directory", func(t *testing.T, root, dir string) {
			other := filepath.Join(root, "sessions", fakeagent.NewSessionID())
			if err := os.Rename(dir, other); err != nil {
				t.Fatal(err)
			}
			os.Symlink(other, dir) // refused too, if reached
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), ".aws-sso-agent")
			s := fakeagent.NewSession(t, testCA(t), 40001)
			s.SSHDPID = 1001
			dir := s.Write(t, root)
			tt.harm(t, root, dir)
			for _, mode := range []string{"flag", "ancestry"} {
				flag := ""
				if mode == "flag" {
					flag = s.ID
				}
				got, err := finder(root, nil, []int{1001}, 1001).Find(flag)
				if err == nil {
					t.Fatalf("%s: got session %s, want it refused", mode, got.ID)
				}
				if remote.ExitCode(err) != remote.ExitNoSession {
					t.Errorf("%s: got exit code %d, want %d (%v)", mode, remote.ExitCode(err), remote.ExitNoSession, err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: got %v, want it to say %q", mode, err, tt.want)
				}
				if strings.Contains(err.Error(), s.Token) {
					t.Errorf("%s: error shows the token", mode)
				}
			}
		})
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func chownOther(t *testing.T, p string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	if err := os.Lchown(p, 4242, 4242); err != nil {
		t.Fatal(err)
	}
}

func TestFindSkipsBrokenSessionsButSaysWhy(t *testing.T) {
	root, a, _ := twoSessions(t)
	chmod(t, filepath.Join(root, "sessions", a.ID, "session.json"), 0o644)
	// b (1002) is the only usable one and alive.
	s, err := finder(root, nil, nil, 1002).Find("")
	if err != nil || s.SSHDPID != 1002 {
		t.Fatalf("got %v, %v; want the usable session", s, err)
	}
	// Nothing usable: the error says why the other was refused.
	_, err = finder(root, nil, nil).Find("")
	if err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("got %v, want it to say why %s was refused", err, a.ID)
	}
}

func TestFindRealAncestry(t *testing.T) {
	// sshd_pid of a fresh session is this test's parent (go test), a real
	// ancestor: the default ancestry walk must find it even with two live.
	root := filepath.Join(t.TempDir(), ".aws-sso-agent")
	s := fakeagent.NewSession(t, testCA(t), 40001)
	s.Write(t, root)
	other := fakeagent.NewSession(t, testCA(t), 40002)
	other.SSHDPID = os.Getpid() // alive, but not an ancestor
	other.Write(t, root)
	got, err := (&remote.Finder{Dir: root, Getenv: func(string) string { return "" }}).Find("")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID {
		t.Fatalf("got session %s, want %s (sshd_pid = parent)", got.ID, s.ID)
	}
}

func TestFindErrorsAreTyped(t *testing.T) {
	_, err := finder(t.TempDir(), nil, nil).Find("")
	if !errors.Is(err, &remote.Error{Kind: remote.KindNoSession}) {
		t.Fatalf("got %v, want errors.Is KindNoSession", err)
	}
}

// TestFindInTmux: a shell in a tmux pane descends from the tmux server,
// not from any sshd; the tmux client showing the pane does.
func TestFindInTmux(t *testing.T) {
	root, a, b := twoSessions(t)
	f := finder(root, nil, []int{900, 1}, 1001, 1002) // pane shell -> tmux server -> init
	f.TmuxClientAncestors = func() ([]int, error) { return []int{950, 1002, 1}, nil }
	s, err := f.Find("")
	if err != nil || s.ID != b.ID {
		t.Fatalf("got %v, %v; want session %s, the tmux client's", s, err, b.ID)
	}
	// Ancestry of the process itself still comes first.
	f.Ancestors = func() ([]int, error) { return []int{1001}, nil }
	if s, err := f.Find(""); err != nil || s.ID != a.ID {
		t.Fatalf("got %v, %v; want session %s, this process's own", s, err, a.ID)
	}
	// A tmux that cannot say (no client, tmux gone) leaves the usual
	// fallbacks: here, two live sessions, so an error.
	f.Ancestors = func() ([]int, error) { return []int{900, 1}, nil }
	f.TmuxClientAncestors = func() ([]int, error) { return nil, errors.New("no tmux") }
	if _, err := f.Find(""); err == nil || !strings.Contains(err.Error(), "2 live sessions") {
		t.Fatalf("got %v, want the two live sessions listed", err)
	}
}

// TestFindRemovesDead: with RemoveDead, a session whose sshd is gone is
// removed, token and all, when Find looks for a live one; a live one, and
// one named by --session, stay.
func TestFindRemovesDead(t *testing.T) {
	root, a, b := twoSessions(t)
	dirOf := func(id string) string { return filepath.Join(root, "sessions", id) }
	os.WriteFile(filepath.Join(dirOf(a.ID), "token"), []byte("secret"), 0o600)

	f := finder(root, nil, []int{77, 1})
	f.RemoveDead = true
	if _, err := f.Find(a.ID); err != nil {
		t.Fatalf("Find(%s): %v", a.ID, err)
	}
	if _, err := os.Stat(dirOf(a.ID)); err != nil {
		t.Fatalf("a session named by --session was removed: %v", err)
	}

	f = finder(root, nil, []int{77, 1}, 1002)
	f.RemoveDead = true
	s, err := f.Find("")
	if err != nil || s.ID != b.ID {
		t.Fatalf("Find = %v, %v; want %s", s, err, b.ID)
	}
	if _, err := os.Stat(dirOf(a.ID)); !os.IsNotExist(err) {
		t.Errorf("the dead session's directory is still there: %v", err)
	}
	if _, err := os.Stat(dirOf(b.ID)); err != nil {
		t.Errorf("the live session's directory went: %v", err)
	}

	f = finder(root, nil, []int{77, 1})
	f.RemoveDead = true
	_, err = f.Find("")
	if err == nil || !strings.Contains(err.Error(), "removed 1 whose SSH connection had ended") {
		t.Errorf("Find = %v; want it to say it removed the last session", err)
	}
	if _, err := os.Stat(dirOf(b.ID)); !os.IsNotExist(err) {
		t.Errorf("the dead session's directory is still there: %v", err)
	}
}

// TestFindKeepsDeadByDefault: the zero Finder only reads.
func TestFindKeepsDeadByDefault(t *testing.T) {
	root, a, _ := twoSessions(t)
	if _, err := finder(root, nil, []int{77, 1}).Find(""); err == nil {
		t.Fatal("Find found a live session among dead ones")
	}
	if _, err := os.Stat(filepath.Join(root, "sessions", a.ID)); err != nil {
		t.Errorf("the zero Finder removed a session: %v", err)
	}
}
