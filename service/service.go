package service

import (
	"errors"
	"path/filepath"
)

// Name is the service's name: the systemd unit aws-sso-agent.service and
// the Windows task aws-sso-agent.
const Name = "aws-sso-agent"

// Label is the launchd label, reverse-DNS as launchd expects.
const Label = "org.aws-sso-agent"

// Spec is what the service runs.
type Spec struct {
	// Program is the absolute path of the aws-sso-agent binary.
	Program string
	// Args follow the program: serve and its flags.
	Args []string
	// Env is set in the service's environment, for non-secret variables
	// such as AWS_SSO_AGENT_HOME. A passphrase never goes here.
	Env map[string]string
	// Home is the user's home directory, under which the definitions and
	// the logs live.
	Home string
	// LogFile receives the agent's stderr where the supervisor keeps no
	// log of its own (launchd, the Windows task); systemd uses the journal.
	LogFile string
}

// Plan is how this platform installs the service.
type Plan struct {
	// Kind names the mechanism for a person: "systemd user unit".
	Kind string
	// File is where the definition goes, and Content what it holds.
	File    string
	Content []byte
	// Probe is a command that succeeds only when the supervisor can be
	// reached; nil when it always can.
	Probe []string
	// Reset runs before Install, its failures ignored: it unloads an
	// earlier install so that the new definition takes effect.
	Reset [][]string
	// Install runs after File is written; Uninstall before it is removed
	// (failures there mean it was not running); Reload after it is removed.
	Install, Uninstall, Reload [][]string
	// Status shows the service's state.
	Status []string
	// Notes are what a person should know after installing.
	Notes []string
}

// ErrUnsupported is returned by For on a platform without a supported
// supervisor.
var ErrUnsupported = errors.New("service: no supported service manager on this platform")

// ServeArgs are the arguments of the service's serve: JSON logs, which the
// journal, launchd's log file and log shippers keep whole.
func ServeArgs(extra ...string) []string {
	return append([]string{"serve", "--log-format", "json"}, extra...)
}

func defaultLog(s Spec, parts ...string) string {
	if s.LogFile != "" {
		return s.LogFile
	}
	return filepath.Join(append([]string{s.Home}, parts...)...)
}
