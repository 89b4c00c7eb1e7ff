package wire

import "path"

// Where sessions live on the remote host, relative to $HOME:
//
//	.aws-sso-agent/                 0700, DirName
//	  sessions/                     0700, SessionsDir
//	    ID/                         0700, SessionDir(ID), one per session
//	      session.json              0600, written by `aws-sso-agent ssh`
//	      token, ca.pem, ca-bundle.pem   0600, written by aws-sso-remote env
//
// Every directory is closed to other users, as ssh wants of ~/.ssh: the
// file pins the agent and holds the token. The agent removes ID/ when the
// session ends, with what the helper wrote in it.
//
// The paths are slash-separated: they name files on the remote host, which
// the agent reaches through a POSIX shell whatever its own platform.
const (
	// DirName is the directory under $HOME.
	DirName = ".aws-sso-agent"
	// SessionsDir holds one directory per session.
	SessionsDir = DirName + "/sessions"
	// SessionFileName is the session file in a session's directory.
	SessionFileName = "session.json"
	// TokenFileName, CAFileName and CABundleFileName are the files the
	// helper writes next to it.
	TokenFileName    = "token"
	CAFileName       = "ca.pem"
	CABundleFileName = "ca-bundle.pem"
)

// SessionDir is session id's directory relative to $HOME. The id must have
// passed ValidateSessionID (the agent's ids are hex, so the path needs no
// quoting in a shell either).
func SessionDir(id string) string { return path.Join(SessionsDir, id) }

// SessionFile is session id's file relative to $HOME.
func SessionFile(id string) string { return path.Join(SessionsDir, id, SessionFileName) }
