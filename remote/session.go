package remote

import "github.com/aws-sso-agent/aws-sso-agent/wire"

// Session is wire.Session, the session file. The name stays only while
// cmd/aws-sso-agent still writes the file through it; this package and its
// callers name wire.Session.
type Session = wire.Session

// ParseSession is wire.ParseSession, kept for the same callers.
func ParseSession(data []byte) (*wire.Session, error) { return wire.ParseSession(data) }

// idHex reports whether name looks like a session directory's name.
func idHex(name string) bool { return wire.ValidateSessionID(name) == nil }
