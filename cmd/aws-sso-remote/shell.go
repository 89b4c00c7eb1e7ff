package main

import (
	"fmt"
	"io"
	"strings"
)

// overriding are the variables that would win over the container endpoint
// in the SDKs' credential chains (or, for the token, over the token file in
// Java v2), so env unsets them (as `aws-sso-agent env` does).
var overriding = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
}

// shellSyntax knows how one shell sets and unsets a variable.
type shellSyntax struct {
	set   func(name, value string) string
	unset func(name string) string
}

var posix = shellSyntax{
	set:   func(n, v string) string { return "export " + n + "=" + quotePOSIX(v) },
	unset: func(n string) string { return "unset " + n },
}

var shells = map[string]shellSyntax{
	"sh":   posix,
	"bash": posix,
	"zsh":  posix,
	"fish": {
		set:   func(n, v string) string { return "set -gx " + n + " " + quoteFish(v) },
		unset: func(n string) string { return "set -e " + n },
	},
	"csh": {
		set:   func(n, v string) string { return "setenv " + n + " " + quoteCsh(v) },
		unset: func(n string) string { return "unsetenv " + n },
	},
}

func init() { shells["tcsh"] = shells["csh"] }

// writeExports writes the unsets, then the sets. Values come from the
// session file and the home directory; a newline in one could not be
// quoted the same way in every shell, so it is refused.
func writeExports(w io.Writer, sh shellSyntax, vars [][2]string, unset []string) error {
	for _, v := range vars {
		if strings.ContainsAny(v[1], "\n\r\x00") {
			return fmt.Errorf("the value of %s holds a newline or NUL, which cannot be exported safely", v[0])
		}
	}
	for _, n := range unset {
		fmt.Fprintln(w, sh.unset(n)+";")
	}
	for _, v := range vars {
		fmt.Fprintln(w, sh.set(v[0], v[1])+";")
	}
	return nil
}

// quotePOSIX single-quotes s for sh, bash and zsh: nothing is special
// inside single quotes, and a quote is closed, escaped and reopened.
func quotePOSIX(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteFish single-quotes s for fish, where \\ and \' are the only escapes
// inside single quotes.
func quoteFish(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// quoteCsh single-quotes s for csh and tcsh, where history expansion ('!')
// acts even inside single quotes.
func quoteCsh(s string) string {
	s = strings.ReplaceAll(s, "'", `'\''`)
	return "'" + strings.ReplaceAll(s, "!", `\!`) + "'"
}
