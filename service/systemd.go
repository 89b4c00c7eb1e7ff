package service

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// SystemdUnitPath is where a user's systemd looks for its own units.
func SystemdUnitPath(home string) string {
	return filepath.Join(home, ".config", "systemd", "user", Name+".service")
}

// SystemdUnit is the user unit that runs s. It restarts the agent when it
// fails, not when it stops cleanly (a second agent refused, a SIGTERM), so
// a configuration error shows in `systemctl --user status` instead of a
// restart loop.
func SystemdUnit(s Spec) []byte {
	var b strings.Builder
	b.WriteString("# Written by aws-sso-agent service install; remove with aws-sso-agent service uninstall.\n")
	b.WriteString("[Unit]\n")
	b.WriteString("Description=aws-sso-agent: AWS credentials for local and SSH sessions\n")
	b.WriteString("Documentation=https://github.com/aws-sso-agent/aws-sso-agent/blob/main/docs/install.md\n")
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=simple\n")
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(k+"="+s.Env[k]))
	}
	words := []string{systemdQuote(s.Program)}
	for _, a := range s.Args {
		words = append(words, systemdQuote(a))
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(words, " "))
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=5\n")
	b.WriteString("\n[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return []byte(b.String())
}

// systemdQuote quotes one word of a command line or an assignment as
// systemd.syntax(7) and systemd.service(5) read it: in double quotes, with
// backslash escapes, and with % and $ doubled so that neither a specifier
// nor a variable is expanded.
func systemdQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		case '$':
			b.WriteString("$$")
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// systemdPlan is the Plan for a systemd user manager.
func systemdPlan(s Spec) Plan {
	sc := func(args ...string) []string { return append([]string{"systemctl", "--user"}, args...) }
	return Plan{
		Kind:      "systemd user unit",
		File:      SystemdUnitPath(s.Home),
		Content:   SystemdUnit(s),
		Probe:     sc("show-environment"),
		Install:   [][]string{sc("daemon-reload"), sc("enable", "--now", Name)},
		Uninstall: [][]string{sc("disable", "--now", Name)},
		Reload:    [][]string{sc("daemon-reload")},
		Status:    sc("status", "--no-pager", Name),
		Notes: []string{
			"logs: journalctl --user -u " + Name + " -f",
			"on a host you reach only over SSH (no desktop session), the user manager and the agent stop at logout;" +
				" to keep them running, run once: loginctl enable-linger $USER",
		},
	}
}
