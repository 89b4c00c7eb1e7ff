package forward

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// Prompter asks the person at the terminal. The CLI implements it; the
// package never touches the terminal itself. Every method may return an
// error to refuse (for example when reading the terminal fails).
type Prompter interface {
	// ConfirmHostKey asks whether to trust and remember key for host, an
	// unknown host ("host:port" as checked in known_hosts). fingerprint is
	// ssh.FingerprintSHA256(key).
	ConfirmHostKey(host string, key ssh.PublicKey, fingerprint string) (bool, error)
	// Passphrase asks for the passphrase of the private key in file.
	Passphrase(file string) ([]byte, error)
	// Password asks for the password of user@host.
	Password(user, host string) (string, error)
	// KeyboardInteractive answers the server's questions
	// (ssh.KeyboardInteractiveChallenge).
	KeyboardInteractive(user, instruction string, questions []string, echos []bool) ([]string, error)
}

// KnownKey is a known_hosts entry that names the host.
type KnownKey struct {
	File string
	Line int
	Key  ssh.PublicKey
}

// String returns "file:line".
func (k KnownKey) String() string { return k.File + ":" + strconv.Itoa(k.Line) }

// HostKeyChangedError reports that the server offered a key other than the
// one(s) known_hosts holds for it: either someone is in the middle, or the
// host key was really replaced. The connection is always refused.
type HostKeyChangedError struct {
	Host  string        // the name checked in known_hosts ("host:port")
	Key   ssh.PublicKey // the key the server offered
	Known []KnownKey    // the entries it does not match
}

func (e *HostKeyChangedError) Error() string {
	var lines []string
	for _, k := range e.Known {
		lines = append(lines, k.String())
	}
	return fmt.Sprintf("forward: REMOTE HOST IDENTIFICATION HAS CHANGED for %s: "+
		"the server offered %s key %s, which does not match known_hosts (%s); "+
		"someone could be eavesdropping (man in the middle), or the host key was just changed; "+
		"check the new key with the host's administrator, then remove the offending line "+
		"(%s)",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), strings.Join(lines, ", "), keygenRemove(e.Host))
}

// keygenRemove is the command that removes hostport's entries from
// known_hosts, ready to paste.
func keygenRemove(hostport string) string {
	return "ssh-keygen -R " + shellQuote(knownhosts.Normalize(hostport))
}

// shellQuote single-quotes s so that a person can paste the command into
// any POSIX shell: a non-default port makes the name "[host]:port", which
// zsh and bash (with failglob) take for a glob pattern.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// UnknownHostError reports a host absent from known_hosts that could not
// be confirmed: batch mode, StrictHostKeyChecking=yes, no Prompter, or the
// person said no.
type UnknownHostError struct {
	Host   string
	Key    ssh.PublicKey
	Reason string // why it was not accepted
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("forward: host key verification failed for %s: no known_hosts entry for its %s key %s (%s)",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), e.Reason)
}

// RevokedHostKeyError reports a host key marked @revoked in known_hosts.
type RevokedHostKeyError struct {
	Host    string
	Key     ssh.PublicKey
	Revoked KnownKey
}

func (e *RevokedHostKeyError) Error() string {
	return fmt.Sprintf("forward: host key for %s is REVOKED: %s key %s is marked @revoked at %s",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), e.Revoked)
}

// hostKeyChecker verifies one host's key the way OpenSSH does.
type hostKeyChecker struct {
	cfg   *Config
	files []string // existing known_hosts files
	db    *knownhosts.HostKeyDB
	name  string            // known_hosts name, "host:port"
	names map[string]string // sanitized copy -> the user's file
	mu    sync.Mutex
}

// newHostKeyChecker loads the known_hosts files of cfg. Missing files are
// skipped, as OpenSSH does.
func newHostKeyChecker(cfg *Config) (*hostKeyChecker, error) {
	h := &hostKeyChecker{cfg: cfg}
	name := cfg.HostName
	if cfg.HostKeyAlias != "" {
		name = cfg.HostKeyAlias
	}
	h.name = net.JoinHostPort(name, strconv.Itoa(cfg.Port))
	for _, f := range append(append([]string(nil), cfg.UserKnownHostsFiles...), cfg.GlobalKnownHostsFiles...) {
		if _, err := os.Stat(f); err == nil {
			h.files = append(h.files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("forward: known_hosts %s: %w", f, err)
		}
	}
	if len(h.files) > 0 {
		db, names, err := loadKnownHosts(cfg, h.files)
		if err != nil {
			return nil, err
		}
		h.db, h.names = db, names
	}
	return h, nil
}

// algorithms returns the host key algorithms to offer: the ones known_hosts
// holds for the host (certificate algorithms for @cert-authority lines), or
// nil for x/crypto's defaults when the host is unknown. Without this a host
// known by its ECDSA key fails when the server prefers ed25519
// (golang/go#29286).
func (h *hostKeyChecker) algorithms() []string {
	if h.db == nil {
		return nil
	}
	algos := h.db.HostKeyAlgorithms(h.name)
	if len(algos) == 0 {
		return nil
	}
	return algos
}

// callback is the ssh.HostKeyCallback. The hostname x/crypto passes (the
// dialed address) is ignored: the name checked is HostKeyAlias or HostName
// with the port, as in OpenSSH.
func (h *hostKeyChecker) callback(_ string, _ net.Addr, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.check(key)
	var revoked *RevokedHostKeyError
	if cert, ok := key.(*ssh.Certificate); ok && err != nil && !errors.As(err, &revoked) {
		// A certificate no known CA vouches for (or expired, or for other
		// principals): judge the plain key inside it, as OpenSSH does
		// (sshconnect.c check_host_key retries without the certificate).
		logf(h.cfg, "host certificate not trusted, checking its plain key", "host", h.name, "err", err)
		return h.check(cert.Key)
	}
	return err
}

func (h *hostKeyChecker) check(key ssh.PublicKey) error {
	if h.db != nil {
		// Check the name only: the remote address of a ProxyJump hop's
		// channel is not the host's, and OpenSSH's CheckHostIP is off by
		// default since 8.5.
		err := h.db.HostKeyCallback()(h.name, &net.TCPAddr{IP: net.IPv4zero}, key)
		if err == nil {
			return nil
		}
		var revoked *xknownhosts.RevokedError
		if errors.As(err, &revoked) {
			return &RevokedHostKeyError{Host: h.name, Key: key, Revoked: KnownKey{File: h.fileName(revoked.Revoked.Filename), Line: revoked.Revoked.Line, Key: revoked.Revoked.Key}}
		}
		var ke *xknownhosts.KeyError
		if !errors.As(err, &ke) {
			return fmt.Errorf("forward: check host key of %s: %w", h.name, err)
		}
		// x/crypto lists @cert-authority lines among the keys it wanted:
		// a plain key not matching a CA is not a changed key, only an
		// unknown one.
		cas := map[string]bool{}
		for _, k := range h.db.HostKeys(h.name) {
			if k.Cert {
				cas[string(k.Marshal())] = true
			}
		}
		e := &HostKeyChangedError{Host: h.name, Key: key}
		for _, w := range ke.Want {
			if !cas[string(w.Key.Marshal())] {
				e.Known = append(e.Known, KnownKey{File: h.fileName(w.Filename), Line: w.Line, Key: w.Key})
			}
		}
		if len(e.Known) > 0 {
			return e
		}
	}
	if _, ok := key.(*ssh.Certificate); ok {
		// Never record a certificate as a host's key; callback retries
		// with the plain key.
		return fmt.Errorf("forward: host certificate of %s is not signed by a known @cert-authority", h.name)
	}
	return h.unknown(key)
}

// unknown decides about a host absent from known_hosts.
func (h *hostKeyChecker) unknown(key ssh.PublicKey) error {
	fp := ssh.FingerprintSHA256(key)
	cfg := h.cfg
	switch {
	case cfg.StrictHostKeyChecking == "yes":
		return &UnknownHostError{Host: h.name, Key: key, Reason: "StrictHostKeyChecking=yes"}
	case cfg.StrictHostKeyChecking == "accept-new" || cfg.StrictHostKeyChecking == "no":
		return h.remember(key)
	case cfg.BatchMode:
		return &UnknownHostError{Host: h.name, Key: key, Reason: "BatchMode=yes, nobody to ask"}
	case cfg.Prompt == nil:
		return &UnknownHostError{Host: h.name, Key: key, Reason: "not a terminal, nobody to ask"}
	}
	ok, err := cfg.Prompt.ConfirmHostKey(h.name, key, fp)
	if err != nil {
		return fmt.Errorf("forward: confirm host key of %s: %w", h.name, err)
	}
	if !ok {
		return &UnknownHostError{Host: h.name, Key: key, Reason: "not confirmed"}
	}
	return h.remember(key)
}

// remember appends key to the first UserKnownHostsFile, hashed when
// HashKnownHosts is set.
func (h *hostKeyChecker) remember(key ssh.PublicKey) error {
	if len(h.cfg.UserKnownHostsFiles) == 0 {
		return &UnknownHostError{Host: h.name, Key: key, Reason: "no UserKnownHostsFile to record it in"}
	}
	file := h.cfg.UserKnownHostsFiles[0]
	name := knownhosts.Normalize(h.name)
	if h.cfg.HashKnownHosts {
		name = xknownhosts.HashHostname(name)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("forward: record host key of %s: %w", h.name, err)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("forward: record host key of %s: %w", h.name, err)
	}
	line := xknownhosts.Line([]string{name}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		// Do not glue our line onto a last line without a newline.
		if last, err := lastByte(file); err == nil && last != '\n' {
			line = "\n" + line
		}
	}
	_, werr := f.WriteString(line)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("forward: record host key of %s in %s: %w", h.name, file, errors.Join(werr, cerr))
	}
	if h.cfg.Logger != nil {
		h.cfg.Logger.Info("permanently added host key to known_hosts", "host", h.name, "type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key), "file", file)
	}
	return nil
}

func lastByte(file string) (byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, st.Size()-1); err != nil {
		return 0, err
	}
	return b[0], nil
}

// fileName maps a sanitized copy back to the user's file, for messages.
func (h *hostKeyChecker) fileName(f string) string {
	if orig, ok := h.names[f]; ok {
		return orig
	}
	return f
}

// loadKnownHosts builds the host key database. x/crypto rejects a whole
// file for one line it cannot parse (an unknown key type, a typo, a bad
// hash), where OpenSSH skips the line; such files are read through a copy
// with the bad lines blanked, so line numbers still point into the user's
// file.
func loadKnownHosts(cfg *Config, files []string) (*knownhosts.HostKeyDB, map[string]string, error) {
	var tmp string // made only when a file needs a sanitized copy
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp) // NewDB reads everything before returning
		}
	}()
	type file struct {
		orig  string
		lines [][]byte
		bad   bool
	}
	var fs []*file
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("forward: read known_hosts: %w", err)
		}
		fl := &file{orig: f, lines: bytes.Split(b, []byte("\n"))}
		for i, line := range fl.lines {
			if !validKnownHostsLine(line) {
				fl.lines[i], fl.bad = nil, true
				logf(cfg, "known_hosts line not understood, skipped", "file", f, "line", i+1)
			}
		}
		fs = append(fs, fl)
	}
	// What the line check misses (x/crypto is stricter, e.g. on hashed
	// names) shows up as "knownhosts: FILE:LINE: ...": blank it and retry.
	for attempt := 0; ; attempt++ {
		names := map[string]string{}
		use := make([]string, len(fs))
		for i, fl := range fs {
			if !fl.bad {
				use[i] = fl.orig
				continue
			}
			if tmp == "" {
				var err error
				if tmp, err = os.MkdirTemp("", "known-hosts-"); err != nil {
					return nil, nil, fmt.Errorf("forward: read known_hosts: %w", err)
				}
			}
			use[i] = filepath.Join(tmp, strconv.Itoa(i))
			if err := os.WriteFile(use[i], bytes.Join(fl.lines, []byte("\n")), 0o600); err != nil {
				return nil, nil, fmt.Errorf("forward: read known_hosts: %w", err)
			}
			names[use[i]] = fl.orig
		}
		db, err := knownhosts.NewDB(use...)
		if err == nil {
			return db, names, nil
		}
		i, line, ok := badLine(err, use)
		if !ok || attempt >= 1000 || line < 1 || line > len(fs[i].lines) || fs[i].lines[line-1] == nil {
			return nil, nil, fmt.Errorf("forward: read known_hosts: %w", err)
		}
		logf(cfg, "known_hosts line not understood, skipped", "file", fs[i].orig, "line", line)
		fs[i].lines[line-1], fs[i].bad = nil, true
	}
}

// badLine finds which of files and which line x/crypto's knownhosts error
// ("knownhosts: FILE:LINE: reason") blames.
func badLine(err error, files []string) (index, line int, ok bool) {
	msg := err.Error()
	for i, f := range files {
		rest, found := strings.CutPrefix(msg, "knownhosts: "+f+":")
		if !found {
			continue
		}
		num, _, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(num)
		if err != nil {
			return 0, 0, false
		}
		return i, n, true
	}
	return 0, 0, false
}

// validKnownHostsLine reports whether x/crypto's parser accepts line.
func validKnownHostsLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] == '#' {
		return true
	}
	_, _, _, _, _, err := ssh.ParseKnownHosts(t)
	return err == nil
}
