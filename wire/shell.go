package wire

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Shell is the syntax of one shell's exports: how it sets and unsets an
// environment variable, and how a value is quoted so that the shell reads
// it back byte for byte and never runs any part of it. The zero Shell is
// sh.
//
// The output is meant for the evaluations the docs give (docs/ssh.md,
// docs/quickstart.md): `eval "$(... env)"` in sh, bash and zsh,
// `... env --shell fish | source`, in csh and tcsh
// eval "`... env --shell csh`", and in PowerShell
// `... env --shell powershell | Invoke-Expression`.
type Shell struct {
	name string
	kind shellKind
}

type shellKind int

const (
	posixShell shellKind = iota
	fishShell
	cshShell
	powerShell
)

var shells = []Shell{
	{"sh", posixShell},
	{"bash", posixShell},
	{"zsh", posixShell},
	{"fish", fishShell},
	{"csh", cshShell},
	{"powershell", powerShell},
}

// ShellNames are the names ParseShell accepts, in the order a usage
// message lists them. ("tcsh" is accepted too, as csh.)
func ShellNames() []string {
	names := make([]string, len(shells))
	for i, s := range shells {
		names[i] = s.name
	}
	return names
}

// ParseShell returns the shell named name: one of ShellNames, or "tcsh",
// which reads csh's syntax.
func ParseShell(name string) (Shell, bool) {
	if name == "tcsh" {
		return Shell{"tcsh", cshShell}, true
	}
	for _, s := range shells {
		if s.name == name {
			return s, true
		}
	}
	return Shell{}, false
}

// Name is the shell's name.
func (sh Shell) Name() string {
	if sh.name == "" {
		return "sh"
	}
	return sh.name
}

// OverridingVars are the variables that would win over the container
// endpoint in some SDK's default credential chain, so both `env` commands
// and `exec` unset them. docs/sdk-compatibility.md gives the reason for each, from
// the SDKs' code: botocore's credentials.py and configprovider.py,
// aws-sdk-go-v2 config's env_config.go and resolve_credentials.go, and
// @aws-sdk/credential-provider-node with the providers it chains.
func OverridingVars() []string {
	return []string{
		// Static keys, and what only ever goes with them.
		"AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN",
		"AWS_ACCESS_KEY",     // aws-sdk-go-v2's alias of AWS_ACCESS_KEY_ID
		"AWS_SECRET_KEY",     // aws-sdk-go-v2's alias of AWS_SECRET_ACCESS_KEY
		"AWS_SECURITY_TOKEN", // botocore's (boto2's) alias of AWS_SESSION_TOKEN
		"AWS_CREDENTIAL_EXPIRATION",
		"AWS_CREDENTIAL_SCOPE",
		"AWS_ACCOUNT_ID",
		// A named profile comes before the container provider.
		"AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", // botocore (AWS CLI v1) and aws-sdk-go-v2 read it too
		// Web identity comes before the container provider.
		"AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_SESSION_NAME",
		// botocore's OriginalEC2Provider (the old EC2 API tools' file).
		"AWS_CREDENTIAL_FILE",
		// The container provider's own variable that beats ours.
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	}
}

// TokenVars are the variables that hand an SDK the endpoint's token: the
// file and, for the SDKs that read only the variable (botocore before
// 1.33, so Debian 12's python3-boto3 and awscli, and others measured in
// docs/sdk-compatibility.md), the token itself. Both hold the same token,
// so it does not matter which one an SDK prefers (the Java SDK v2 takes
// the variable, every other the file). The variable exposes nothing the
// file does not: the file is readable by the same user who can read the
// environment of that user's processes.
func TokenVars(tokenFile, token string) []Var {
	return []Var{
		{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: tokenFile},
		{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN", Value: token},
	}
}

// Var is one environment variable to export.
type Var struct {
	Name, Value string
}

// ErrUnexportable is returned (wrapped) by Exports for a value that holds
// a newline, a carriage return or NUL. No environment can hold NUL; a
// newline cannot reach csh through eval "`...`", which turns newlines
// into spaces, nor PowerShell through Invoke-Expression, which runs each
// line alone; and one rule for every shell keeps the exports the same
// whatever the shell.
var ErrUnexportable = errors.New("wire: value holds a newline or NUL, which cannot be exported safely")

// Exports returns the shell's commands that unset each of unset and then
// set each of set, one command a line, each ending in ";". Names must be
// [A-Za-z_][A-Za-z0-9_]*; values are quoted for the shell. It fails,
// returning nothing, if a name or a value cannot be exported.
func (sh Shell) Exports(set []Var, unset []string) (string, error) {
	for _, n := range unset {
		if !validName(n) {
			return "", fmt.Errorf("wire: %q is not an environment variable name", sanitize(n, 80))
		}
	}
	for _, v := range set {
		if !validName(v.Name) {
			return "", fmt.Errorf("wire: %q is not an environment variable name", sanitize(v.Name, 80))
		}
		if strings.ContainsAny(v.Value, "\n\r\x00") {
			return "", fmt.Errorf("%w: the value of %s", ErrUnexportable, v.Name)
		}
	}
	var b strings.Builder
	for _, n := range unset {
		b.WriteString(sh.unset(n))
		b.WriteString(";\n")
	}
	for _, v := range set {
		b.WriteString(sh.set(v.Name, v.Value))
		b.WriteString(";\n")
	}
	return b.String(), nil
}

func (sh Shell) set(name, value string) string {
	switch sh.kind {
	case fishShell:
		return "set -gx " + name + " " + quoteFish(value)
	case cshShell:
		return "setenv " + name + " " + quoteCsh(value)
	case powerShell:
		return "$Env:" + name + " = " + quotePowerShell(value)
	}
	return "export " + name + "=" + quotePOSIX(value)
}

func (sh Shell) unset(name string) string {
	switch sh.kind {
	case fishShell:
		return "set -e " + name
	case cshShell:
		return "unsetenv " + name
	case powerShell:
		// Without -ErrorAction, removing an unset variable is an error.
		return "Remove-Item Env:" + name + " -ErrorAction SilentlyContinue"
	}
	return "unset " + name
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c != '_' && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// quotePOSIX single-quotes s for sh, bash and zsh: nothing is special
// inside single quotes (POSIX.1-2017, Shell Command Language 2.2.2), and
// a quote is closed, escaped and reopened.
func quotePOSIX(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteFish single-quotes s for fish, where \\ and \' are the only escapes
// inside single quotes (fish's "Quotes" documentation).
func quoteFish(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// quoteCsh single-quotes s for csh and tcsh, where history expansion ('!')
// acts even inside single quotes unless escaped (tcsh(1), "History
// substitution"); a quote is closed, escaped and reopened as in sh.
func quoteCsh(s string) string {
	s = strings.ReplaceAll(s, "'", `'\''`)
	return "'" + strings.ReplaceAll(s, "!", `\!`) + "'"
}

// quotePowerShell single-quotes s for PowerShell, where nothing is special
// inside single quotes but the quote itself, written twice. PowerShell
// also takes the typographic single quotes U+2018 to U+201B for a quote
// (about_Quoting_Rules), so those are doubled too.
func quotePowerShell(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteString(s[i : i+size])
		}
		b.WriteString(s[i : i+size]) // the bytes as given, even invalid UTF-8
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}
