package service

import (
	"encoding/xml"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// LaunchdPlistPath is where launchd looks for a user's agents.
func LaunchdPlistPath(home string) string {
	return filepath.Join(home, "Library", "LaunchAgents", Label+".plist")
}

// LaunchdLog is the default log file of the launchd agent, where Console.app
// looks for a user's logs.
func LaunchdLog(home string) string {
	return filepath.Join(home, "Library", "Logs", Name+".log")
}

// LaunchdPlist is the launchd agent that runs s at login. KeepAlive with
// SuccessfulExit false restarts it when it fails, as the systemd unit's
// Restart=on-failure does.
func LaunchdPlist(s Spec) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by aws-sso-agent service install; remove with aws-sso-agent service uninstall. -->
<plist version="1.0">
<dict>
`)
	key := func(k string) { b.WriteString("\t<key>" + xmlText(k) + "</key>\n") }
	str := func(indent, v string) { b.WriteString(indent + "<string>" + xmlText(v) + "</string>\n") }
	key("Label")
	str("\t", Label)
	key("ProgramArguments")
	b.WriteString("\t<array>\n")
	str("\t\t", s.Program)
	for _, a := range s.Args {
		str("\t\t", a)
	}
	b.WriteString("\t</array>\n")
	if len(s.Env) > 0 {
		key("EnvironmentVariables")
		b.WriteString("\t<dict>\n")
		keys := make([]string, 0, len(s.Env))
		for k := range s.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString("\t\t<key>" + xmlText(k) + "</key>\n")
			str("\t\t", s.Env[k])
		}
		b.WriteString("\t</dict>\n")
	}
	key("RunAtLoad")
	b.WriteString("\t<true/>\n")
	key("KeepAlive")
	b.WriteString("\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
	key("ProcessType")
	str("\t", "Background")
	log := defaultLog(s, "Library", "Logs", Name+".log")
	key("StandardOutPath")
	str("\t", log)
	key("StandardErrorPath")
	str("\t", log)
	b.WriteString("</dict>\n</plist>\n")
	return []byte(b.String())
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// launchdPlan is the Plan for launchd, in the user's GUI domain
// (launchctl(1): gui/UID).
func launchdPlan(s Spec, uid int) Plan {
	domain := "gui/" + strconv.Itoa(uid)
	file := LaunchdPlistPath(s.Home)
	return Plan{
		Kind:    "launchd agent",
		File:    file,
		Content: LaunchdPlist(s),
		Probe:   []string{"launchctl", "print", domain},
		// bootout first: bootstrap refuses a label that is loaded, and a
		// reinstall must pick up the new plist.
		Reset:     [][]string{{"launchctl", "bootout", domain + "/" + Label}},
		Install:   [][]string{{"launchctl", "bootstrap", domain, file}},
		Uninstall: [][]string{{"launchctl", "bootout", domain + "/" + Label}},
		Status:    []string{"launchctl", "print", domain + "/" + Label},
		Notes:     []string{"logs: " + defaultLog(s, "Library", "Logs", Name+".log")},
	}
}
