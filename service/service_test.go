package service

import (
	"encoding/xml"
	"strings"
	"testing"
)

// spec has a program path with a space and the characters each format
// must escape, and a passphrase file, which may appear (it is a path) but
// no passphrase.
var spec = Spec{
	Program: "/home/a b/.local/bin/aws-sso-agent",
	Args:    ServeArgs("--store", "file", "--passphrase-file", "/home/a b/.config/aws-sso-agent/pass%1$x"),
	Env:     map[string]string{"AWS_SSO_AGENT_HOME": "/srv/agent <1>"},
	Home:    "/home/a b",
}

const passphrase = "correct horse battery staple"

func TestSystemdUnit(t *testing.T) {
	got := string(SystemdUnit(spec))
	for _, want := range []string{
		"\n[Service]\n",
		`ExecStart="/home/a b/.local/bin/aws-sso-agent" "serve" "--log-format" "json" "--store" "file" "--passphrase-file" "/home/a b/.config/aws-sso-agent/pass%%1$$x"` + "\n",
		`Environment="AWS_SSO_AGENT_HOME=/srv/agent <1>"` + "\n",
		"Restart=on-failure\n",
		"\n[Install]\nWantedBy=default.target\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	noSecret(t, got)
	if strings.Contains(got, "PASSPHRASE") {
		t.Errorf("unit passes the passphrase through the environment:\n%s", got)
	}
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":    `"plain"`,
		`a"b\c`:    `"a\"b\\c"`,
		"%h/$HOME": `"%%h/$$HOME"`,
		"a\nb":     `"a\nb"`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLaunchdPlist(t *testing.T) {
	got := LaunchdPlist(spec)
	var plist struct {
		Dict struct {
			Items []struct {
				XMLName xml.Name
				Text    string   `xml:",chardata"`
				Strings []string `xml:"string"`
			} `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(got, &plist); err != nil {
		t.Fatalf("plist is not XML: %v\n%s", err, got)
	}
	// The top dict alternates key, value.
	values := map[string][]string{}
	items := plist.Dict.Items
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].XMLName.Local != "key" {
			t.Fatalf("item %d is <%s>, want <key>", i, items[i].XMLName.Local)
		}
		v := items[i+1]
		if v.XMLName.Local == "string" {
			values[items[i].Text] = []string{v.Text}
		} else {
			values[items[i].Text] = v.Strings
		}
	}
	check := func(key string, want ...string) {
		t.Helper()
		if got := values[key]; strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	check("Label", Label)
	check("ProgramArguments", append([]string{spec.Program}, spec.Args...)...)
	check("StandardErrorPath", "/home/a b/Library/Logs/aws-sso-agent.log")
	check("StandardOutPath", "/home/a b/Library/Logs/aws-sso-agent.log")
	check("EnvironmentVariables", "/srv/agent <1>")
	if !strings.Contains(string(got), "<key>RunAtLoad</key>\n\t<true/>") {
		t.Errorf("plist does not run at load:\n%s", got)
	}
	noSecret(t, string(got))
	if p := LaunchdPlistPath("/Users/u"); p != "/Users/u/Library/LaunchAgents/org.aws-sso-agent.plist" {
		t.Errorf("LaunchdPlistPath = %s", p)
	}
}

func TestTaskXML(t *testing.T) {
	s := spec
	s.Program = `C:\Program Files\aws-sso-agent\aws-sso-agent.exe`
	s.Args = ServeArgs("--store", "file", "--passphrase-file", `C:\Users\u\pass`)
	s.LogFile = `C:\Users\u\AppData\Local\aws-sso-agent\aws-sso-agent.log`
	got := TaskXML(s)
	var task struct {
		Triggers struct {
			Logon *struct{} `xml:"LogonTrigger"`
		} `xml:"Triggers"`
		Principal struct {
			LogonType string `xml:"LogonType"`
			RunLevel  string `xml:"RunLevel"`
		} `xml:"Principals>Principal"`
		Exec struct {
			Command   string `xml:"Command"`
			Arguments string `xml:"Arguments"`
		} `xml:"Actions>Exec"`
		TimeLimit string `xml:"Settings>ExecutionTimeLimit"`
	}
	if err := xml.Unmarshal(got, &task); err != nil {
		t.Fatalf("task is not XML: %v\n%s", err, got)
	}
	if task.Triggers.Logon == nil {
		t.Error("no logon trigger")
	}
	if task.Principal.LogonType != "InteractiveToken" || task.Principal.RunLevel != "LeastPrivilege" {
		t.Errorf("principal = %+v, want the user's own token without elevation", task.Principal)
	}
	if task.TimeLimit != "PT0S" {
		t.Errorf("ExecutionTimeLimit = %q, want PT0S (no limit: the agent runs until logoff)", task.TimeLimit)
	}
	if task.Exec.Command != "cmd.exe" {
		t.Errorf("Command = %q, want cmd.exe", task.Exec.Command)
	}
	want := `/d /c ""C:\Program Files\aws-sso-agent\aws-sso-agent.exe" serve --log-format json --store file --passphrase-file C:\Users\u\pass 2>>C:\Users\u\AppData\Local\aws-sso-agent\aws-sso-agent.log"`
	if task.Exec.Arguments != want {
		t.Errorf("Arguments =\n%s\nwant\n%s", task.Exec.Arguments, want)
	}
	noSecret(t, string(got))
}

func TestPlans(t *testing.T) {
	sd := systemdPlan(spec)
	if sd.File != "/home/a b/.config/systemd/user/aws-sso-agent.service" {
		t.Errorf("systemd File = %s", sd.File)
	}
	if got := strings.Join(sd.Install[len(sd.Install)-1], " "); got != "systemctl --user enable --now aws-sso-agent" {
		t.Errorf("systemd install ends with %q", got)
	}
	if !strings.Contains(strings.Join(sd.Notes, "\n"), "loginctl enable-linger") {
		t.Errorf("systemd notes do not mention lingering: %q", sd.Notes)
	}
	ld := launchdPlan(spec, 501)
	if got := strings.Join(ld.Install[0], " "); got != "launchctl bootstrap gui/501 /home/a b/Library/LaunchAgents/org.aws-sso-agent.plist" {
		t.Errorf("launchd install = %q", got)
	}
	tk := taskPlan(spec, `C:\Users\u\AppData\Local`)
	if got := strings.Join(tk.Install[0], " "); !strings.HasPrefix(got, "schtasks /Create /TN aws-sso-agent /XML ") {
		t.Errorf("task install = %q", got)
	}
}

func noSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, passphrase) {
		t.Errorf("the definition holds the passphrase:\n%s", s)
	}
}
