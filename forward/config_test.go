package forward

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

func TestExpandTokens(t *testing.T) {
	tk := tokens{home: "/home/me", host: "alias", hostName: "real.example", port: 2222,
		remoteUser: "ruser", localUser: "me", jump: "j1", getenv: func(k string) string {
			if k == "KEYS" {
				return "/keys"
			}
			return ""
		}}
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "~/.ssh/id_%r@%h", want: "/home/me/.ssh/id_ruser@real.example"},
		{in: "%d/.ssh/%n-%p", want: "/home/me/.ssh/alias-2222"},
		{in: "/x/%u/100%%", want: "/x/me/100%"},
		{in: "~", want: "/home/me"},
		{in: "${KEYS}/%r", want: "/keys/ruser"},
		{in: "/via/%j", want: "/via/j1"},
		{in: "plain", want: "plain"},
		{in: "${UNSET}/k", wantErr: true},
		{in: "bad %z", wantErr: true},
		{in: "trailing %", wantErr: true},
		{in: "~nosuchuser-xyz/k", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expandPath(tt.in, tk)
			if (err != nil) != tt.wantErr {
				t.Fatalf("expandPath(%q): err %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("expandPath(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseOption(t *testing.T) {
	tests := []struct {
		in, key, value string
		wantErr        bool
	}{
		{in: "Port=2222", key: "port", value: "2222"},
		{in: "Port 2222", key: "port", value: "2222"},
		{in: "  Port = 2222 ", key: "port", value: "2222"},
		{in: `IdentityFile="/a b/c"`, key: "identityfile", value: "/a b/c"},
		{in: "StrictHostKeyChecking=accept-new", key: "stricthostkeychecking", value: "accept-new"},
		{in: "ServerAliveInterval=1m30s", key: "serveraliveinterval", value: "1m30s"},
		{in: "ProxyJump=a@b:22,c", key: "proxyjump", value: "a@b:22,c"},
		{in: "SomethingElse=whatever", key: "somethingelse", value: "whatever"},
		{in: "Port=0", wantErr: true},
		{in: "Port=70000", wantErr: true},
		{in: "BatchMode=maybe", wantErr: true},
		{in: "StrictHostKeyChecking=sometimes", wantErr: true},
		{in: "ServerAliveInterval=5x", wantErr: true},
		{in: "ServerAliveCountMax=-1", wantErr: true},
		{in: "ConnectTimeout=99999999999999", wantErr: true},
		{in: "ProxyJump=-oProxyCommand=evil", wantErr: true},
		{in: "User=a;b", wantErr: true},
		{in: "=x", wantErr: true},
		{in: "Port=", wantErr: true},
		{in: `User="a`, wantErr: true},
		{in: "Ke-y=v", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, v, err := ParseOption(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseOption(%q): err %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && (k != tt.key || v != tt.value) {
				t.Errorf("ParseOption(%q): got %q=%q, want %q=%q", tt.in, k, v, tt.key, tt.value)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"10", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"1h", time.Hour, false},
		{"2d", 48 * time.Hour, false},
		{"1W", 7 * 24 * time.Hour, false},
		{"", 0, true},
		{"m", 0, true},
		{"10q", 0, true},
		{"-1", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseTime(%q): got %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseDestination(t *testing.T) {
	tests := []struct {
		in, user, host string
		port           int
		err            bool
	}{
		{in: "host", host: "host"},
		{in: "me@host", user: "me", host: "host"},
		{in: "me@corp@host", user: "me@corp", host: "host"},
		{in: "ssh://me@host:2222", user: "me", host: "host", port: 2222},
		{in: "ssh://[::1]:2222", host: "::1", port: 2222},
		{in: "-oProxyCommand=x", err: true},
		{in: "me@", err: true},
		{in: "ssh://host:0", err: true},
	}
	for _, tt := range tests {
		u, h, p, err := ParseDestination(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseDestination(%q): err %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (u != tt.user || h != tt.host || p != tt.port) {
			t.Errorf("ParseDestination(%q): got %q %q %d, want %q %q %d", tt.in, u, h, p, tt.user, tt.host, tt.port)
		}
	}
}

// resolvers returns the pure-Go resolver and, when ssh exists, the ssh -G
// one: the same expectations must hold for both.
func resolvers(t *testing.T) map[string]*Resolver {
	t.Helper()
	rs := map[string]*Resolver{"pure-go": {PureGo: true, Getenv: func(string) string { return "/agent.sock" }}}
	if p, err := exec.LookPath("ssh"); err == nil {
		rs["ssh -G"] = &Resolver{SSH: p, Getenv: func(string) string { return "/agent.sock" }}
	} else {
		t.Logf("ssh not installed: only the pure-Go resolver is tested")
	}
	return rs
}

func TestResolvePrecedence(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	home := u.HomeDir // ssh -G expands ~ with the passwd entry, not $HOME
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	writeFile(t, conf, `Host alias
  HostName 127.0.0.2
  Port 2222
  User fileuser
  IdentityFile %d/.ssh/id_%r@%h
  ServerAliveInterval 1m
  StrictHostKeyChecking yes
  UserKnownHostsFile ~/kh `+dir+`/kh2
  ProxyJump jumper

Host jumper
  HostName 127.0.0.3
  User jumpuser
  ProxyJump loop

Host *
  User star
  Port 2200
  ConnectTimeout 7
  IdentitiesOnly yes
  HashKnownHosts yes
`)
	type want struct {
		hostName     string
		port         int
		user         string
		ids          []string
		strict       string
		jump         string
		jumpUser     string
		sai          time.Duration
		ctimeout     time.Duration
		knownHost    []string
		proxyCommand string
		jumpHost     string
	}
	def := want{
		hostName: "127.0.0.2", port: 2222, user: "fileuser",
		ids:    []string{home + "/.ssh/id_fileuser@127.0.0.2"},
		strict: "yes", jump: "jumper", jumpUser: "jumpuser", jumpHost: "127.0.0.3:2200", sai: time.Minute, ctimeout: 7 * time.Second,
		knownHost: []string{home + "/kh", dir + "/kh2"},
	}
	tests := []struct {
		name string
		dest string
		o    Options
		edit func(w *want)
	}{
		{name: "file only", dest: "alias", edit: func(w *want) {}},
		{name: "-p and -l win", dest: "alias", o: Options{Port: 3333, User: "cli"}, edit: func(w *want) {
			w.port, w.user = 3333, "cli"
			w.ids = []string{home + "/.ssh/id_cli@127.0.0.2"}
		}},
		{name: "-o wins", dest: "alias", o: Options{Options: []string{"Port=4444", "User=ouser", "StrictHostKeyChecking=accept-new", "ServerAliveInterval=5", "ConnectTimeout=1m"}}, edit: func(w *want) {
			w.port, w.user, w.strict, w.sai, w.ctimeout = 4444, "ouser", "accept-new", 5*time.Second, time.Minute
			w.ids = []string{home + "/.ssh/id_ouser@127.0.0.2"}
		}},
		{name: "first -o wins", dest: "alias", o: Options{Options: []string{"Port=4444", "Port=5555"}}, edit: func(w *want) { w.port = 4444 }},
		{name: "-l beats user@", dest: "desu@alias", o: Options{User: "cli"}, edit: func(w *want) {
			w.user = "cli"
			w.ids = []string{home + "/.ssh/id_cli@127.0.0.2"}
		}},
		{name: "user@ beats file", dest: "desu@alias", edit: func(w *want) {
			w.user = "desu"
			w.ids = []string{home + "/.ssh/id_desu@127.0.0.2"}
		}},
		{name: "-i comes first, file's follow", dest: "alias", o: Options{IdentityFiles: []string{"/cli/key"}}, edit: func(w *want) {
			w.ids = []string{"/cli/key", home + "/.ssh/id_fileuser@127.0.0.2"}
		}},
		{name: "-J wins", dest: "alias", o: Options{ProxyJump: "other@jumper:2022"}, edit: func(w *want) {
			w.jump, w.jumpUser, w.jumpHost = "other@jumper:2022", "other", "127.0.0.3:2022"
		}},
		{name: "ProxyJump none", dest: "alias", o: Options{Options: []string{"ProxyJump=none"}}, edit: func(w *want) { w.jump = "" }},
		{name: "-o ProxyCommand excludes the file's ProxyJump", dest: "alias", o: Options{Options: []string{"ProxyCommand=nc %h %p"}}, edit: func(w *want) { w.proxyCommand, w.jump = "nc %h %p", "" }},
		{name: "Host * defaults", dest: "plain", edit: func(w *want) {
			*w = want{hostName: "plain", port: 2200, user: "star", strict: "ask", ctimeout: 7 * time.Second}
		}},
	}
	for rname, r := range resolvers(t) {
		for _, tt := range tests {
			t.Run(rname+"/"+tt.name, func(t *testing.T) {
				w := def
				w.ids = append([]string(nil), def.ids...)
				tt.edit(&w)
				tt.o.ConfigFile = conf
				c, err := r.Resolve(context.Background(), tt.dest, tt.o)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if c.HostName != w.hostName || c.Port != w.port || c.User != w.user {
					t.Errorf("got %s@%s:%d, want %s@%s:%d", c.User, c.HostName, c.Port, w.user, w.hostName, w.port)
				}
				if w.ids != nil && !reflect.DeepEqual(c.IdentityFiles, w.ids) {
					t.Errorf("IdentityFiles: got %q, want %q", c.IdentityFiles, w.ids)
				}
				if c.StrictHostKeyChecking != w.strict {
					t.Errorf("StrictHostKeyChecking: got %q, want %q", c.StrictHostKeyChecking, w.strict)
				}
				if c.ServerAliveInterval != w.sai || c.ConnectTimeout != w.ctimeout {
					t.Errorf("ServerAliveInterval, ConnectTimeout: got %v, %v, want %v, %v", c.ServerAliveInterval, c.ConnectTimeout, w.sai, w.ctimeout)
				}
				if c.ProxyJump != w.jump {
					t.Errorf("ProxyJump: got %q, want %q", c.ProxyJump, w.jump)
				}
				if w.jump != "" {
					if len(c.Jumps) != 1 {
						t.Fatalf("Jumps: got %d, want 1", len(c.Jumps))
					}
					j := c.Jumps[0]
					if got := net.JoinHostPort(j.HostName, strconv.Itoa(j.Port)); got != w.jumpHost {
						t.Errorf("jump hop address: got %s, want %s", got, w.jumpHost)
					}
					if j.User != w.jumpUser || j.ProxyJump != "" {
						t.Errorf("jump hop: got user %q proxyjump %q, want %q and none (hops do not recurse)", j.User, j.ProxyJump, w.jumpUser)
					}
				}
				if c.ProxyCommand != w.proxyCommand {
					t.Errorf("ProxyCommand: got %q, want %q", c.ProxyCommand, w.proxyCommand)
				}
				if w.knownHost != nil && !reflect.DeepEqual(c.UserKnownHostsFiles, w.knownHost) {
					t.Errorf("UserKnownHostsFiles: got %q, want %q", c.UserKnownHostsFiles, w.knownHost)
				}
				if !c.IdentitiesOnly || !c.HashKnownHosts {
					t.Errorf("Host * booleans not applied: IdentitiesOnly %v HashKnownHosts %v", c.IdentitiesOnly, c.HashKnownHosts)
				}
				if c.IdentityAgent != "/agent.sock" {
					t.Errorf("IdentityAgent: got %q, want SSH_AUTH_SOCK's /agent.sock", c.IdentityAgent)
				}
			})
		}
	}
}

func TestResolveErrors(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "config")
	writeFile(t, conf, "Host bad\n  IdentityFile /k/%z\n")
	for rname, r := range resolvers(t) {
		for _, tc := range []struct {
			dest string
			o    Options
		}{
			{"bad", Options{ConfigFile: conf}},
			{"ok", Options{ConfigFile: conf, Options: []string{"Port=nope"}}},
			{"-oProxyCommand=x", Options{ConfigFile: conf}},
			{"ok", Options{ConfigFile: filepath.Join(t.TempDir(), "missing")}},
		} {
			if _, err := r.Resolve(context.Background(), tc.dest, tc.o); err == nil {
				t.Errorf("%s: Resolve(%q, %+v): got success, want error", rname, tc.dest, tc.o)
			} else if !strings.HasPrefix(err.Error(), "forward: ") {
				t.Errorf("%s: error %q lacks the package context", rname, err)
			}
		}
	}
}

// TestHomeIsPasswdHome: with $HOME pointing elsewhere, ~ is still the
// passwd entry's home directory, in both resolvers, as in OpenSSH: keys,
// known_hosts and config come from where `ssh` reads them.
func TestHomeIsPasswdHome(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	conf := filepath.Join(t.TempDir(), "config")
	writeFile(t, conf, "Host h\n  IdentityFile ~/.ssh/id_test\n  UserKnownHostsFile ~/.ssh/kh_test\n")
	for rname, r := range resolvers(t) {
		c, err := r.Resolve(context.Background(), "h", Options{ConfigFile: conf})
		if err != nil {
			t.Fatalf("%s: %v", rname, err)
		}
		if want := []string{u.HomeDir + "/.ssh/id_test"}; !slices.Equal(c.IdentityFiles, want) {
			t.Errorf("%s: IdentityFiles = %q, want %q (the passwd home, not $HOME)", rname, c.IdentityFiles, want)
		}
		if want := []string{u.HomeDir + "/.ssh/kh_test"}; !slices.Equal(c.UserKnownHostsFiles, want) {
			t.Errorf("%s: UserKnownHostsFiles = %q, want %q", rname, c.UserKnownHostsFiles, want)
		}
	}
}

func TestIdentityAgentSetting(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "config")
	writeFile(t, conf, "Host none\n  IdentityAgent none\nHost env\n  IdentityAgent $MYSOCK\nHost path\n  IdentityAgent ~/agent-%r\n  User u\n")
	env := func(k string) string {
		return map[string]string{"MYSOCK": "/my.sock", "SSH_AUTH_SOCK": "/default.sock"}[k]
	}
	u, _ := user.Current()
	for rname, r := range resolvers(t) {
		r.Getenv = env
		for dest, want := range map[string]string{"none": "", "env": "/my.sock", "path": u.HomeDir + "/agent-u", "other": "/default.sock"} {
			c, err := r.Resolve(context.Background(), dest, Options{ConfigFile: conf})
			if err != nil {
				t.Fatalf("%s: Resolve(%s): %v", rname, dest, err)
			}
			if c.IdentityAgent != want {
				t.Errorf("%s: IdentityAgent of %s: got %q, want %q", rname, dest, c.IdentityAgent, want)
			}
		}
	}
}

func FuzzParseOption(f *testing.F) {
	fuzztest.Start(f)
	for _, s := range []string{"Port=22", "User me", `IdentityFile="/a b"`, "ServerAliveInterval=1h30m",
		"ProxyJump=a@b:1,c", "StrictHostKeyChecking accept-new", "=", `a=""b""`, "ConnectTimeout=99999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, v, err := ParseOption(in)
		if err != nil {
			return
		}
		if k == "" || v == "" || k != strings.ToLower(k) || strings.ContainsAny(v, "\x00\r\n") {
			t.Fatalf("ParseOption(%q) = %q, %q: invalid result", in, k, v)
		}
		// Parsing the canonical quoted form gives the same answer.
		k2, v2, err := ParseOption(k + `="` + v + `"`)
		if err != nil || k2 != k || v2 != v {
			t.Fatalf("round trip of %q: got %q=%q, %v; want %q=%q", in, k2, v2, err, k, v)
		}
		switch k {
		case "port":
			if n, _ := strconv.Atoi(v); n < 1 || n > 65535 {
				t.Fatalf("accepted port %q", v)
			}
		case "connecttimeout", "serveraliveinterval":
			if v != "none" {
				if d, err := parseTime(v); err != nil || d < 0 {
					t.Fatalf("accepted time %q: %v, %v", v, d, err)
				}
			}
		}
	})
}

func FuzzExpandPath(f *testing.F) {
	fuzztest.Start(f)
	for _, s := range []string{"~/.ssh/id_%r@%h", "%d/%%/%p", "${HOME}/x", "~", "%", "${"} {
		f.Add(s)
	}
	tk := tokens{home: "/h", host: "h", hostName: "hn", port: 22, remoteUser: "r", localUser: "l",
		getenv: func(k string) string { return map[string]string{"HOME": "/h"}[k] }}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.HasPrefix(in, "~") && !strings.HasPrefix(in, "~/") && in != "~" {
			return // ~user looks up the passwd database: not for fuzzing
		}
		out, err := expandPath(in, tk)
		if err == nil && !strings.Contains(in, "%") && !strings.Contains(in, "${") && !strings.HasPrefix(in, "~") && out != in {
			t.Fatalf("expandPath(%q) = %q: changed a string with nothing to expand", in, out)
		}
	})
}

func TestKnownHostsBadLinesSkipped(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	_, priv2, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(priv2)
	f := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, f, strings.Join([]string{
		"host1 ssh-foo AAAAB3NzaC1yc2E=", // unknown key type
		"garbage",                        // not an entry
		"|1|notbase64|x= " + pub,         // a hash x/crypto cannot decode
		"[example.org]:2222 " + pub,      // line 4: the real entry
		"",
	}, "\n"))
	var logs bytes.Buffer
	cfg := &Config{HostName: "example.org", Port: 2222, UserKnownHostsFiles: []string{f}, StrictHostKeyChecking: "yes",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h, err := newHostKeyChecker(cfg)
	if err != nil {
		t.Fatalf("newHostKeyChecker: %v", err)
	}
	for _, line := range []string{"line=1", "line=2", "line=3"} {
		if !strings.Contains(logs.String(), "file="+f+" "+line) {
			t.Errorf("log lacks the skipped %s:\n%s", line, logs.String())
		}
	}
	if err := h.callback("", nil, signer.PublicKey()); err != nil {
		t.Errorf("known key after bad lines: got %v, want accepted", err)
	}
	err = h.callback("", nil, other.PublicKey())
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) || len(changed.Known) != 1 || changed.Known[0].String() != f+":4" {
		t.Errorf("changed key: got %v, want *HostKeyChangedError naming %s:4", err, f)
	}
}

// FuzzKnownHosts: whatever a known_hosts file holds, loading it never
// fails (bad lines are skipped, as OpenSSH does) and never panics.
func FuzzKnownHosts(f *testing.F) {
	fuzztest.Start(f)
	f.Add("[h]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n")
	f.Add("@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n")
	f.Add("@revoked * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n")
	f.Add("|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n")
	f.Add("garbage\n\n# comment\nh ssh-foo AAAA\n")
	dir := fuzztest.MemDir(f)
	f.Fuzz(func(t *testing.T, content string) {
		if strings.Count(content, "\n") > 50 {
			return // each bad line costs a retry; keep executions fast
		}
		file := filepath.Join(dir, "known_hosts")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := loadKnownHosts(&Config{}, []string{file}); err != nil {
			t.Fatalf("loadKnownHosts(%q): %v", content, err)
		}
	})
}

func TestProxyCommandRefusesShellSyntaxInNames(t *testing.T) {
	for _, name := range []string{"a;touch /tmp/x", "$(id)", "`id`", "-oX", "a b", "a|b"} {
		cfg := &Config{Host: name, HostName: name, Port: 22, User: "u", ProxyCommand: "nc %h %p"}
		_, err := Dial(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "characters a shell would interpret") {
			t.Errorf("ProxyCommand with host %q: got %v, want a refusal", name, err)
		}
	}
	for _, name := range []string{"host.example.org", "10.0.0.1", "::1", "i-0abc123", "user_name"} {
		if !shellSafe(name) {
			t.Errorf("shellSafe(%q): got false, want true", name)
		}
	}
}

// TestProxyCommandExitNamedOnWrite: when the command exits before reading,
// the writer (of the SSH version line, first) and the reader must hear how
// it exited, not "file already closed" or a bare broken pipe.
func TestProxyCommandExitNamedOnWrite(t *testing.T) {
	conn, err := dialProxyCommand(context.Background(), &Config{Host: "h", HostName: "h", Port: 22, User: "u", ProxyCommand: "false"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-conn.(*commandConn).done // exited and reaped
	_, err = conn.Write([]byte("SSH-2.0-test\r\n"))
	if err == nil || !strings.Contains(err.Error(), "ProxyCommand exited: exit status 1") {
		t.Errorf("Write after the ProxyCommand exited: got %v, want the exit status", err)
	}
	_, err = conn.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "ProxyCommand exited: exit status 1") {
		t.Errorf("Read after the ProxyCommand exited: got %v, want the exit status", err)
	}
}
