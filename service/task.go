package service

import (
	"path/filepath"
	"strings"
)

// TaskXMLPath is where the task's definition is kept for schtasks /XML.
func TaskXMLPath(localAppData string) string {
	return filepath.Join(localAppData, Name, Name+"-task.xml")
}

// TaskLog is the default log file of the Windows task.
func TaskLog(localAppData string) string {
	return filepath.Join(localAppData, Name, Name+".log")
}

// TaskXML is a Task Scheduler definition that runs s when the user logs
// on, restarting it when it fails. The task has no log of its own, so
// cmd.exe sends the agent's stderr to s.LogFile; cmd.exe's quoting rule
// for /c (cmd /?: the outer quotes are stripped when the line starts with
// one) keeps paths with spaces whole.
func TaskXML(s Spec) []byte {
	words := []string{winQuote(s.Program)}
	for _, a := range s.Args {
		words = append(words, winQuote(a))
	}
	log := defaultLog(s, "AppData", "Local", Name, Name+".log")
	cmdline := `/d /c "` + strings.Join(words, " ") + ` 2>>` + winQuote(log) + `"`
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by aws-sso-agent service install; remove with aws-sso-agent service uninstall. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>aws-sso-agent: AWS credentials for local and SSH sessions</Description>
    <URI>\` + Name + `</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
    <Hidden>false</Hidden>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>` + xmlText(cmdline) + `</Arguments>
    </Exec>
  </Actions>
</Task>
`)
	return []byte(b.String())
}

// winQuote quotes one argument for CommandLineToArgvW, which Go programs
// use to split their command line: in double quotes, with a quote escaped
// by a backslash.
func winQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"&|<>^%") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// taskPlan is the Plan for the Task Scheduler.
func taskPlan(s Spec, localAppData string) Plan {
	file := TaskXMLPath(localAppData)
	return Plan{
		Kind:      "logon task",
		File:      file,
		Content:   TaskXML(s),
		Install:   [][]string{{"schtasks", "/Create", "/TN", Name, "/XML", file, "/F"}, {"schtasks", "/Run", "/TN", Name}},
		Uninstall: [][]string{{"schtasks", "/End", "/TN", Name}, {"schtasks", "/Delete", "/TN", Name, "/F"}},
		Status:    []string{"schtasks", "/Query", "/TN", Name, "/V", "/FO", "LIST"},
		Notes:     []string{"logs: " + defaultLog(s, "AppData", "Local", Name, Name+".log")},
	}
}
