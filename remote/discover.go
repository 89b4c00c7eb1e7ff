package remote

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// SessionEnv is the environment variable that names the session to use
// when --session is not given.
const SessionEnv = "AWS_SSO_AGENT_SESSION"

// Finder finds this shell's session file. The zero value uses $HOME, the
// process environment and the real process ancestry.
type Finder struct {
	// Dir is the helper's directory; "" means $HOME/.aws-sso-agent.
	Dir string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Ancestors returns the ids of this process's ancestors, parent
	// first; nil means the real ancestry (/proc on Linux, sysctl on
	// macOS).
	Ancestors func() ([]int, error)
	// Alive reports whether a process exists; nil means kill(pid, 0).
	Alive func(pid int) bool
	// TmuxClientAncestors returns, inside tmux, the ancestors of the
	// tmux client showing this pane (none outside tmux); nil means ask
	// tmux when $TMUX is set.
	TmuxClientAncestors func() ([]int, error)
	// RemoveDead removes, while Find looks for a live session, the
	// directories of sessions whose sshd is gone, token included: their
	// client was killed or cut off before it could clean up, and no
	// shell can use them again (the forward went with the connection).
	RemoveDead bool
}

func (f *Finder) dir() (string, error) {
	if f.Dir != "" {
		return f.Dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", &Error{Kind: KindNoSession, Reason: "find the home directory", Err: err,
			Hint: "set HOME, or pass --session ID"}
	}
	return filepath.Join(home, filepath.FromSlash(wire.DirName)), nil
}

// SessionsDir is the directory holding one directory per session.
func (f *Finder) SessionsDir() (string, error) {
	d, err := f.dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, filepath.Base(wire.SessionsDir)), nil
}

// Find returns the session to use, in this order: id if not empty (the
// --session flag); $AWS_SSO_AGENT_SESSION; the session whose sshd process
// is an ancestor of this process (the SSH connection this shell runs in);
// the only session whose sshd process is alive; with several, inside tmux,
// the one whose sshd is an ancestor of the tmux client showing this pane.
// Anything else is a KindNoSession error that lists the live sessions and
// says to pass --session. With RemoveDead, the sessions it finds dead on
// the way are removed (an explicit id is left alone: the user asked for
// it, and is told what is wrong with it).
//
// Directories and files with the wrong owner or permissions are refused,
// as ssh refuses a private key others can read: the file pins the agent
// and holds the token.
func (f *Finder) Find(id string) (*wire.Session, error) {
	sdir, err := f.SessionsDir()
	if err != nil {
		return nil, err
	}
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	from := "--session"
	if id == "" {
		id, from = getenv(SessionEnv), SessionEnv
	}
	if id != "" {
		if err := wire.ValidateSessionID(id); err != nil {
			return nil, &Error{Kind: KindNoSession, Reason: "bad " + from, Err: err,
				Hint: "pass the id of a live session (ls " + sdir + ")"}
		}
		if err := f.checkRoot(sdir); err != nil {
			return nil, err
		}
		s, err := LoadSession(filepath.Join(sdir, id))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Kind: KindNoSession, Reason: "no session " + id + " (from " + from + ")",
				Hint: "the SSH session may have ended: reconnect with `aws-sso-agent ssh HOST`, or pick a live one from " + sdir}
		}
		return s, err
	}

	if err := f.checkRoot(sdir); err != nil {
		return nil, err
	}
	sessions, bad, err := f.list(sdir)
	if err != nil {
		return nil, err
	}
	ancestors := f.Ancestors
	if ancestors == nil {
		ancestors = processAncestors
	}
	// An error part-way (a process gone, an unsupported OS) leaves the
	// ancestors found so far, still worth matching; then fall back.
	pids, _ := ancestors()
	if s := sessionOf(sessions, pids); s != nil {
		return s, nil
	}
	alive := f.Alive
	if alive == nil {
		alive = processAlive
	}
	var live []*wire.Session
	removed := 0
	for _, s := range sessions {
		switch {
		case alive(s.SSHDPID):
			live = append(live, s)
		case f.RemoveDead && os.RemoveAll(s.Dir) == nil:
			removed++
		}
	}
	var tmuxErr error
	if len(live) > 1 {
		// Inside tmux the shell descends from the tmux server, which
		// left the SSH connection that started it; the client showing
		// the pane, in the user's current connection, does not.
		tmux := f.TmuxClientAncestors
		if tmux == nil {
			tmux = func() ([]int, error) {
				pid, err := tmuxClient(getenv)
				if pid == 0 {
					return nil, err
				}
				return ancestorsOf(pid)
			}
		}
		pids, tmuxErr = tmux()
		if s := sessionOf(live, pids); s != nil {
			return s, nil
		}
	}
	switch {
	case len(live) == 1:
		return live[0], nil
	case len(live) > 1:
		var b strings.Builder
		for _, s := range live {
			fmt.Fprintf(&b, "\n  %s  port %d  from %s  started %s", s.ID, s.Port, sanitize(s.Host, 255), s.Created.Local().Format("2006-01-02 15:04"))
		}
		return nil, &Error{Kind: KindNoSession,
			Reason: fmt.Sprintf("%d live sessions and none is an ancestor of this process:%s", len(live), b.String()),
			Err:    tmuxErr,
			Hint:   "pass --session ID (or set " + SessionEnv + ") to pick one"}
	}
	e := &Error{Kind: KindNoSession, Reason: "no live session in " + sdir,
		Hint: "connect with `aws-sso-agent ssh HOST` from your workstation, and run this in that session"}
	if removed > 0 {
		e.Reason += fmt.Sprintf(" (removed %d whose SSH connection had ended)", removed)
	}
	if len(bad) > 0 {
		// Say why a session that is there could not be used: most
		// likely the one the user expects.
		e.Err = bad[0]
		e.Hint = HintOf(bad[0])
	}
	return nil, e
}

// sessionOf returns the session whose sshd is one of pids, nearest first.
func sessionOf(sessions []*wire.Session, pids []int) *wire.Session {
	for _, pid := range pids {
		for _, s := range sessions {
			if s.SSHDPID == pid {
				return s
			}
		}
	}
	return nil
}

// list loads every session in sdir. Sessions that cannot be loaded are
// returned as errors (bad), so the caller can say why when nothing usable
// remains; entries that are not session ids are ignored.
func (f *Finder) list(sdir string) (sessions []*wire.Session, bad []error, err error) {
	entries, err := os.ReadDir(sdir)
	if err != nil {
		return nil, nil, &Error{Kind: KindNoSession, Reason: "read " + sdir, Err: err}
	}
	for _, ent := range entries {
		if wire.ValidateSessionID(ent.Name()) != nil {
			continue
		}
		s, err := LoadSession(filepath.Join(sdir, ent.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a session ending right now, or not yet written
		}
		if err != nil {
			bad = append(bad, err)
			continue
		}
		sessions = append(sessions, s)
	}
	slices.SortFunc(sessions, func(a, b *wire.Session) int { return strings.Compare(a.ID, b.ID) })
	return sessions, bad, nil
}

// checkRoot checks $HOME/.aws-sso-agent and its sessions directory: both
// must be directories owned by this user that no one else can read or
// write, or another user could plant a session that points at a squatter.
func (f *Finder) checkRoot(sdir string) error {
	for _, d := range []string{filepath.Dir(sdir), sdir} {
		if err := checkPrivate(d, true); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return &Error{Kind: KindNoSession, Reason: "no session on this host: " + d + " does not exist",
					Hint: "connect with `aws-sso-agent ssh HOST` from your workstation, and run this in that session"}
			}
			return unsafeError(d, err)
		}
	}
	return nil
}

func unsafeError(path string, err error) error {
	var pe *permError
	if errors.As(err, &pe) {
		return &Error{Kind: KindNoSession, Reason: "refusing " + path, Err: err, Hint: pe.hint}
	}
	return &Error{Kind: KindNoSession, Reason: "check " + path, Err: err}
}

// LoadSession reads dir/session.json. The directory and the file must be
// owned by this user and closed to others (0700 and 0600 as written), and
// the file must pass wire.ParseSession.
func LoadSession(dir string) (*wire.Session, error) {
	if err := checkPrivate(dir, true); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unsafeError(dir, err)
	}
	path := filepath.Join(dir, wire.SessionFileName)
	data, err := readPrivate(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unsafeError(path, err)
	}
	s, err := wire.ParseSession(data)
	if err != nil {
		return nil, &Error{Kind: KindNoSession, Reason: "read " + path, Err: err,
			Hint: "the session file is damaged or from another version: reconnect with `aws-sso-agent ssh HOST`"}
	}
	if s.ID != filepath.Base(dir) {
		return nil, &Error{Kind: KindNoSession, Reason: "read " + path,
			Err:  fmt.Errorf("session id %s does not match its directory", s.ID),
			Hint: "remove " + dir + " and reconnect with `aws-sso-agent ssh HOST`"}
	}
	s.Dir = dir
	return s, nil
}

// readPrivate reads a private regular file: not a symbolic link, owned by
// this user, no access for others, at most wire.MaxSessionFile bytes
// (one byte more, for wire.ParseSession to refuse). The checks
// are made on the open file, so a swap between check and read is caught.
func readPrivate(path string) ([]byte, error) {
	if err := checkPrivate(path, false); err != nil {
		return nil, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkInfo(fi, false); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(fh, wire.MaxSessionFile+1))
}

// permError is an unsafe owner, type or mode, with what to do about it.
type permError struct {
	msg  string
	hint string
}

func (e *permError) Error() string { return e.msg }

// checkPrivate checks path with lstat (a symbolic link is refused).
func checkPrivate(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	return checkInfo(fi, dir)
}

func checkInfo(fi fs.FileInfo, dir bool) error {
	name := fi.Name()
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &permError{msg: "is a symbolic link", hint: "remove the link " + name + "; the agent writes real files"}
	case dir && !fi.IsDir():
		return &permError{msg: "is not a directory", hint: "remove it and reconnect with `aws-sso-agent ssh HOST`"}
	case !dir && !fi.Mode().IsRegular():
		return &permError{msg: "is not a regular file", hint: "remove it and reconnect with `aws-sso-agent ssh HOST`"}
	}
	if err := checkOwner(fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		want, cmd := "0600", "chmod 600"
		if dir {
			want, cmd = "0700", "chmod 700"
		}
		return &permError{
			msg:  fmt.Sprintf("mode %04o lets other users in, want %s", perm, want),
			hint: "if you did not loosen it yourself, someone may have tampered with it; otherwise: " + cmd + " " + name,
		}
	}
	return nil
}
