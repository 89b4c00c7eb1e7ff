package forward

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Config is one host's resolved SSH configuration: what `ssh -G` prints,
// reduced to what this client uses, with `~`, `${VAR}` and `%` tokens
// already expanded in file names.
type Config struct {
	Host     string // the destination as given (an alias, OpenSSH's %n)
	HostName string // the real host name or address to connect to
	Port     int
	User     string

	IdentityFiles  []string // private key files, in order
	IdentitiesOnly bool     // use only IdentityFiles, even when the agent holds others
	// IdentityAgent is the ssh-agent socket; "" means no agent.
	IdentityAgent string

	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
	// HostKeyAlias, when set, is the name looked up in known_hosts instead
	// of HostName.
	HostKeyAlias string
	// StrictHostKeyChecking is "yes", "accept-new", "ask" or "no".
	StrictHostKeyChecking string
	HashKnownHosts        bool

	// BatchMode forbids every question: no host prompt, no passphrase,
	// no password. The two auth switches below are OpenSSH's yes in
	// Configs from Resolve; a Config built by hand must set them.
	BatchMode                    bool
	PasswordAuthentication       bool
	KbdInteractiveAuthentication bool

	ConnectTimeout      time.Duration // TCP connect plus SSH handshake; 0 = none
	ServerAliveInterval time.Duration // 0 = no keepalives
	ServerAliveCountMax int

	// ProxyJump is the raw jump list ("" or "none" for none); Jumps holds
	// the resolved configuration of each hop, first hop first.
	ProxyJump string
	Jumps     []*Config
	// ProxyCommand, when set, is run (with %h %n %p %r expanded) and SSH
	// is spoken over its stdin and stdout. It and ProxyJump exclude each
	// other, as in OpenSSH.
	ProxyCommand string
	// ProxyStderr receives the ProxyCommand's stderr; nil discards it.
	ProxyStderr io.Writer

	// Prompt asks the person at the terminal; nil means nobody can be
	// asked (as in BatchMode). Not set by Resolve.
	Prompt Prompter
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// Options are the command-line settings: OpenSSH's -F, -p, -l, -i, -J and
// -o. As in OpenSSH they win over the configuration files, and within each
// source the first value of a keyword wins (IdentityFile accumulates).
type Options struct {
	ConfigFile    string   // -F; "" = ~/.ssh/config and /etc/ssh/ssh_config
	Port          int      // -p; 0 = unset
	User          string   // -l
	IdentityFiles []string // -i
	ProxyJump     string   // -J
	Options       []string // -o Key=Value, in order
}

// Resolver resolves destinations into Configs. The zero value uses `ssh -G`
// when an ssh binary is on PATH and the current user's home and name.
type Resolver struct {
	// SSH is the ssh binary used for `ssh -G`; "" looks up "ssh" on PATH.
	SSH string
	// PureGo skips `ssh -G` and parses the files with kevinburke/ssh_config
	// (no Match except "Match all/host", no CanonicalizeHostname).
	PureGo bool
	// Home and LocalUser default to the current user's. Home is where
	// ~/.ssh is, and what ~ and %d expand to in the pure-Go path and in
	// the tokens ssh -G leaves unexpanded (IdentityFile, IdentityAgent).
	// Its default is the home directory of the user's passwd entry, not
	// $HOME: OpenSSH takes ~ from getpwuid(3) everywhere (ssh.c, misc.c
	// tilde_expand), so with HOME set elsewhere `ssh` and this package
	// still read the same config, keys and known_hosts.
	Home      string
	LocalUser string
	// Getenv defaults to os.Getenv (SSH_AUTH_SOCK, ${VAR} in paths).
	Getenv func(string) string
	// SystemConfig is the system-wide file read by the pure-Go path when
	// Options.ConfigFile is empty; "" = /etc/ssh/ssh_config.
	SystemConfig string
}

// Resolve resolves dest with the default Resolver.
func Resolve(ctx context.Context, dest string, o Options) (*Config, error) {
	var r Resolver
	return r.Resolve(ctx, dest, o)
}

// maxJumps bounds ProxyJump chains (and loops through config files).
const maxJumps = 8

// Resolve returns the configuration for dest ("host", "user@host" or
// "ssh://user@host:port"), including the configuration of each ProxyJump
// hop. A hop's own ProxyJump is not followed: the chain is the one the
// destination names, as OpenSSH builds it for `-J a,b`.
func (r *Resolver) Resolve(ctx context.Context, dest string, o Options) (*Config, error) {
	cfg, err := r.resolveOne(ctx, dest, o)
	if err != nil {
		return nil, err
	}
	if cfg.ProxyJump == "" {
		return cfg, nil
	}
	hops := strings.Split(cfg.ProxyJump, ",")
	if len(hops) > maxJumps {
		return nil, fmt.Errorf("forward: resolve %s: ProxyJump has %d hops, at most %d allowed", dest, len(hops), maxJumps)
	}
	for _, hop := range hops {
		hop = strings.TrimSpace(hop)
		if hop == "" {
			return nil, fmt.Errorf("forward: resolve %s: empty hop in ProxyJump %q", dest, cfg.ProxyJump)
		}
		// The hop gets the same config file (as OpenSSH passes -F on)
		// and nothing else from the command line; "ProxyJump none" keeps
		// it from recursing into its own configured jumps.
		jc, err := r.resolveOne(ctx, hopDest(hop), Options{ConfigFile: o.ConfigFile, Options: []string{"ProxyJump=none"}})
		if err != nil {
			return nil, fmt.Errorf("forward: resolve jump host %s: %w", hop, err)
		}
		cfg.Jumps = append(cfg.Jumps, jc)
	}
	return cfg, nil
}

// ParseDestination splits "user@host", "host" or "ssh://user@host:port".
func ParseDestination(dest string) (userName, host string, port int, err error) {
	d := dest
	if rest, ok := strings.CutPrefix(d, "ssh://"); ok {
		d = strings.TrimSuffix(rest, "/")
		if i := strings.LastIndexByte(d, '@'); i >= 0 {
			userName, d = d[:i], d[i+1:]
		}
		h, p := d, ""
		if strings.HasPrefix(d, "[") {
			end := strings.IndexByte(d, ']')
			if end < 0 {
				return "", "", 0, fmt.Errorf("forward: destination %q: missing ]", dest)
			}
			h, p = d[1:end], strings.TrimPrefix(d[end+1:], ":")
		} else if i := strings.LastIndexByte(d, ':'); i >= 0 {
			h, p = d[:i], d[i+1:]
		}
		if p != "" {
			if port, err = parsePort(p); err != nil {
				return "", "", 0, fmt.Errorf("forward: destination %q: %w", dest, err)
			}
		}
		d = h
	} else if i := strings.LastIndexByte(d, '@'); i >= 0 {
		userName, d = d[:i], d[i+1:]
	}
	if d == "" || strings.HasPrefix(d, "-") || strings.ContainsAny(d, " \t\r\n'\"\\`;&|$") {
		return "", "", 0, fmt.Errorf("forward: destination %q: invalid host name", dest)
	}
	return userName, d, port, nil
}

func (r *Resolver) env(k string) string {
	if r.Getenv != nil {
		return r.Getenv(k)
	}
	return os.Getenv(k)
}

func (r *Resolver) home() string {
	if r.Home != "" {
		return r.Home
	}
	// os/user reads /etc/passwd (or NSS with cgo); only a user without an
	// entry falls back to $HOME, as OpenSSH would refuse to run at all.
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	h, _ := os.UserHomeDir()
	return h
}

func (r *Resolver) localUser() string {
	if r.LocalUser != "" {
		return r.LocalUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return r.env("USER")
}

func (r *Resolver) resolveOne(ctx context.Context, dest string, o Options) (*Config, error) {
	destUser, host, destPort, err := ParseDestination(dest)
	if err != nil {
		return nil, err
	}
	var s settings
	sshPath := r.SSH
	if sshPath == "" && !r.PureGo {
		sshPath, _ = exec.LookPath("ssh")
	}
	if sshPath != "" && !r.PureGo {
		s, err = r.sshG(ctx, sshPath, destUser, host, destPort, o)
	} else {
		s, err = r.pureGo(destUser, host, destPort, o)
	}
	if err != nil {
		return nil, fmt.Errorf("forward: resolve %s: %w", dest, err)
	}
	cfg, err := r.build(host, s)
	if err != nil {
		return nil, fmt.Errorf("forward: resolve %s: %w", dest, err)
	}
	return cfg, nil
}

// sshG asks OpenSSH itself: it knows Match, Include, CanonicalizeHostname
// and every default. The command-line settings go to it as flags, so its
// own precedence rules apply.
func (r *Resolver) sshG(ctx context.Context, sshPath, destUser, host string, destPort int, o Options) (settings, error) {
	for _, opt := range o.Options {
		// Validate here too: a bad -o must not be a flag to ssh.
		if _, _, err := ParseOption(opt); err != nil {
			return nil, err
		}
	}
	args := []string{"-G"}
	if o.ConfigFile != "" {
		args = append(args, "-F", o.ConfigFile)
	}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	} else if destPort != 0 {
		args = append(args, "-p", strconv.Itoa(destPort))
	}
	if o.User != "" {
		args = append(args, "-l", o.User)
	}
	for _, f := range o.IdentityFiles {
		// -o, not -i: ssh -G drops an -i file it cannot read, but the
		// caller should hear about a missing key from us, by name.
		args = append(args, "-o", `IdentityFile="`+f+`"`)
	}
	if o.ProxyJump != "" {
		args = append(args, "-J", o.ProxyJump)
	}
	for _, opt := range o.Options {
		args = append(args, "-o", opt)
	}
	d := host
	if destUser != "" {
		d = destUser + "@" + host
	}
	args = append(args, "--", d)
	cmd := exec.CommandContext(ctx, sshPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimSpace(strings.ReplaceAll(msg, "Pseudo-terminal will not be allocated because stdin is not a terminal.", ""))
		return nil, fmt.Errorf("ssh -G: %w: %s", err, msg)
	}
	s := settings{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		k = strings.ToLower(k)
		s[k] = append(s[k], v)
	}
	// ssh -G prints "connecttimeout none" and the like for unset values.
	for _, k := range []string{"connecttimeout", "proxyjump", "hostkeyalias", "identityagent"} {
		if v := s.get(k); v == "none" && k != "identityagent" {
			delete(s, k)
		}
	}
	// Lists printed on one line.
	for _, k := range []string{"userknownhostsfile", "globalknownhostsfile"} {
		if v, ok := s[k]; ok {
			s[k] = strings.Fields(strings.Join(v, " "))
		}
	}
	return s, sc.Err()
}

// pureGo reads the files with kevinburke/ssh_config: command line first,
// then the user's file, then the system file, then OpenSSH's defaults.
func (r *Resolver) pureGo(destUser, host string, destPort int, o Options) (settings, error) {
	s := settings{}
	if o.Port != 0 {
		s.set("port", strconv.Itoa(o.Port))
	}
	if o.User != "" {
		s.set("user", o.User)
	}
	for _, f := range o.IdentityFiles {
		s.set("identityfile", f)
	}
	if o.ProxyJump != "" {
		s.set("proxyjump", o.ProxyJump)
	}
	for _, opt := range o.Options {
		k, v, err := ParseOption(opt)
		if err != nil {
			return nil, err
		}
		s.set(k, v)
	}
	if destUser != "" {
		s.set("user", destUser)
	}
	if destPort != 0 {
		s.set("port", strconv.Itoa(destPort))
	}

	files := []string{o.ConfigFile}
	if o.ConfigFile == "" {
		sys := r.SystemConfig
		if sys == "" {
			sys = "/etc/ssh/ssh_config"
		}
		files = []string{filepath.Join(r.home(), ".ssh", "config"), sys}
	} else if o.ConfigFile == "none" {
		files = nil
	}
	for i, name := range files {
		f, err := os.Open(name)
		if err != nil {
			if o.ConfigFile == "" && errors.Is(err, os.ErrNotExist) {
				continue // the default files are optional; -F is not
			}
			return nil, err
		}
		c, err := ssh_config.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		_ = i
		for _, k := range knownKeywords {
			vals, err := c.GetAll(host, k)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", name, k, err)
			}
			for _, v := range vals {
				if k == "userknownhostsfile" || k == "globalknownhostsfile" {
					for _, f := range strings.Fields(v) {
						s.set(k, f)
					}
					continue
				}
				s.set(k, v)
			}
		}
	}
	// OpenSSH's defaults (readconf.c fill_default_options).
	s.setDefault("hostname", "%h")
	s.setDefault("port", "22")
	s.setDefault("user", r.localUser())
	if _, ok := s["identityfile"]; !ok {
		for _, n := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"} {
			s.set("identityfile", "~/.ssh/"+n)
		}
	}
	if _, ok := s["userknownhostsfile"]; !ok {
		s.set("userknownhostsfile", "~/.ssh/known_hosts")
		s.set("userknownhostsfile", "~/.ssh/known_hosts2")
	}
	if _, ok := s["globalknownhostsfile"]; !ok {
		s.set("globalknownhostsfile", "/etc/ssh/ssh_known_hosts")
		s.set("globalknownhostsfile", "/etc/ssh/ssh_known_hosts2")
	}
	return s, nil
}

// knownKeywords are the keywords this client reads (lower case, as ssh -G
// prints them).
var knownKeywords = []string{
	"hostname", "port", "user", "identityfile", "identitiesonly", "identityagent",
	"userknownhostsfile", "globalknownhostsfile", "hostkeyalias",
	"stricthostkeychecking", "hashknownhosts", "batchmode",
	"passwordauthentication", "kbdinteractiveauthentication",
	"connecttimeout", "serveraliveinterval", "serveralivecountmax", "proxyjump",
	"proxycommand",
}

// multiValued keywords accumulate instead of first-wins.
var multiValued = map[string]bool{
	"identityfile": true, "userknownhostsfile": true, "globalknownhostsfile": true,
	"certificatefile": true, "localforward": true, "remoteforward": true, "dynamicforward": true,
	"sendenv": true, "setenv": true,
}

// settings maps a lower-case keyword to its values.
type settings map[string][]string

// set records v unless k already has a value (OpenSSH: first value wins),
// or appends for multi-valued keywords.
func (s settings) set(k, v string) {
	k = strings.ToLower(k)
	if _, ok := s[k]; ok && !multiValued[k] {
		return
	}
	// ProxyJump and ProxyCommand share one slot in OpenSSH: whichever
	// comes first excludes the other.
	if other, ok := map[string]string{"proxyjump": "proxycommand", "proxycommand": "proxyjump"}[k]; ok {
		if _, set := s[other]; set {
			return
		}
	}
	s[k] = append(s[k], v)
}

func (s settings) setDefault(k, v string) {
	if _, ok := s[k]; !ok {
		s[k] = []string{v}
	}
}

func (s settings) get(k string) string {
	if v := s[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// build validates settings and expands file names.
func (r *Resolver) build(host string, s settings) (*Config, error) {
	c := &Config{Host: host}
	var err error
	if c.Port, err = parsePort(s.get("port")); err != nil {
		return nil, fmt.Errorf("port: %w", err)
	}
	c.User = s.get("user")
	t := tokens{
		home: r.home(), host: host, port: c.Port, remoteUser: c.User,
		localUser: r.localUser(), getenv: r.env,
	}
	// HostName may itself contain %h (e.g. "HostName %h.example.org").
	if c.HostName, err = expandTokens(s.get("hostname"), t, "hostname"); err != nil {
		return nil, err
	}
	if c.HostName == "" {
		c.HostName = host
	}
	t.hostName = c.HostName
	c.ProxyJump = s.get("proxyjump")
	if c.ProxyJump == "none" {
		c.ProxyJump = ""
	}
	t.jump = c.ProxyJump
	if pc := s.get("proxycommand"); pc != "" && pc != "none" {
		c.ProxyCommand = pc
	}

	for _, f := range s["identityfile"] {
		p, err := expandPath(f, t)
		if err != nil {
			return nil, fmt.Errorf("IdentityFile: %w", err)
		}
		c.IdentityFiles = append(c.IdentityFiles, p)
	}
	for _, f := range s["userknownhostsfile"] {
		if f == "none" {
			continue
		}
		p, err := expandPath(f, t)
		if err != nil {
			return nil, fmt.Errorf("UserKnownHostsFile: %w", err)
		}
		c.UserKnownHostsFiles = append(c.UserKnownHostsFiles, p)
	}
	for _, f := range s["globalknownhostsfile"] {
		if f == "none" {
			continue
		}
		p, err := expandPath(f, t)
		if err != nil {
			return nil, fmt.Errorf("GlobalKnownHostsFile: %w", err)
		}
		c.GlobalKnownHostsFiles = append(c.GlobalKnownHostsFiles, p)
	}
	if a := s.get("hostkeyalias"); a != "" && a != "none" {
		c.HostKeyAlias = a
	}

	switch a := s.get("identityagent"); a {
	case "none":
	case "", "SSH_AUTH_SOCK":
		c.IdentityAgent = r.env("SSH_AUTH_SOCK")
		if c.IdentityAgent == "" {
			c.IdentityAgent = defaultAgent
		}
	default:
		if strings.HasPrefix(a, "$") && !strings.HasPrefix(a, "${") {
			c.IdentityAgent = r.env(a[1:])
		} else if c.IdentityAgent, err = expandPath(a, t); err != nil {
			return nil, fmt.Errorf("IdentityAgent: %w", err)
		}
	}

	bools := []struct {
		key string
		dst *bool
		def bool
	}{
		{"identitiesonly", &c.IdentitiesOnly, false},
		{"hashknownhosts", &c.HashKnownHosts, false},
		{"batchmode", &c.BatchMode, false},
		{"passwordauthentication", &c.PasswordAuthentication, true},
		{"kbdinteractiveauthentication", &c.KbdInteractiveAuthentication, true},
	}
	for _, b := range bools {
		*b.dst = b.def
		if v := s.get(b.key); v != "" {
			if *b.dst, err = parseYesNo(v); err != nil {
				return nil, fmt.Errorf("%s: %w", b.key, err)
			}
		}
	}
	c.StrictHostKeyChecking = "ask"
	if v := s.get("stricthostkeychecking"); v != "" {
		if c.StrictHostKeyChecking, err = parseStrict(v); err != nil {
			return nil, err
		}
	}
	if v := s.get("connecttimeout"); v != "" {
		if c.ConnectTimeout, err = parseTime(v); err != nil {
			return nil, fmt.Errorf("ConnectTimeout: %w", err)
		}
	}
	if v := s.get("serveraliveinterval"); v != "" {
		if c.ServerAliveInterval, err = parseTime(v); err != nil {
			return nil, fmt.Errorf("ServerAliveInterval: %w", err)
		}
	}
	c.ServerAliveCountMax = 3 // OpenSSH's default
	if v := s.get("serveralivecountmax"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ServerAliveCountMax: bad number %q", v)
		}
		c.ServerAliveCountMax = n
	}
	return c, nil
}

// ParseOption parses one `-o` argument as OpenSSH does: "Key=Value",
// "Key Value" or "Key = Value", with optional double quotes around the
// value. The key comes back in lower case. Values of the keywords this
// client uses are validated.
func ParseOption(opt string) (key, value string, err error) {
	s := strings.TrimSpace(opt)
	i := strings.IndexAny(s, "= \t")
	if i <= 0 {
		return "", "", fmt.Errorf("forward: option %q: want Key=Value", opt)
	}
	key = strings.ToLower(s[:i])
	for _, r := range key {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return "", "", fmt.Errorf("forward: option %q: bad keyword", opt)
		}
	}
	rest := strings.TrimLeft(s[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	value = strings.TrimSpace(rest)
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	} else if strings.Contains(value, `"`) {
		return "", "", fmt.Errorf("forward: option %q: unbalanced quotes", opt)
	}
	if value == "" {
		return "", "", fmt.Errorf("forward: option %q: missing value", opt)
	}
	if strings.ContainsAny(value, "\x00\r\n") {
		return "", "", fmt.Errorf("forward: option %q: control character in value", opt)
	}
	if err := validateValue(key, value); err != nil {
		return "", "", fmt.Errorf("forward: option %q: %w", opt, err)
	}
	return key, value, nil
}

func validateValue(key, value string) error {
	var err error
	switch key {
	case "port":
		_, err = parsePort(value)
	case "identitiesonly", "hashknownhosts", "batchmode", "passwordauthentication", "kbdinteractiveauthentication":
		_, err = parseYesNo(value)
	case "stricthostkeychecking":
		_, err = parseStrict(value)
	case "connecttimeout", "serveraliveinterval":
		if value != "none" {
			_, err = parseTime(value)
		}
	case "serveralivecountmax":
		if n, e := strconv.Atoi(value); e != nil || n < 0 {
			err = fmt.Errorf("bad number %q", value)
		}
	case "proxyjump":
		if value != "none" {
			for _, hop := range strings.Split(value, ",") {
				if _, _, _, e := ParseDestination(hopDest(hop)); e != nil {
					return e
				}
			}
		}
	case "user":
		if strings.ContainsAny(value, " \t'\"\\`;&|$") {
			err = fmt.Errorf("bad user name %q", value)
		}
	}
	return err
}

// hopDest turns a ProxyJump hop "[user@]host[:port]" into a destination
// ParseDestination accepts.
func hopDest(hop string) string {
	hop = strings.TrimSpace(hop)
	if strings.HasPrefix(hop, "ssh://") {
		return hop
	}
	return "ssh://" + hop
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", v)
	}
	return n, nil
}

func parseYesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, got %q", v)
}

func parseStrict(v string) (string, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return "yes", nil
	case "no", "off", "false":
		return "no", nil
	case "ask":
		return "ask", nil
	case "accept-new":
		return "accept-new", nil
	}
	return "", fmt.Errorf("StrictHostKeyChecking: want yes, accept-new, ask or no, got %q", v)
}

// parseTime parses OpenSSH's time format (misc.c convtime): a number of
// seconds, or a sequence of numbers with s, m, h, d or w units ("1h30m").
func parseTime(v string) (time.Duration, error) {
	if v == "" {
		return 0, errors.New("empty time")
	}
	const max = 100 * 365 * 24 * time.Hour // far beyond any sane timeout, far below overflow
	var total time.Duration
	for v != "" {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i > 10 {
			return 0, fmt.Errorf("bad time %q", v)
		}
		n, _ := strconv.ParseInt(v[:i], 10, 64)
		unit := time.Second
		v = v[i:]
		if v != "" {
			switch v[0] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			case 'd', 'D':
				unit = 24 * time.Hour
			case 'w', 'W':
				unit = 7 * 24 * time.Hour
			default:
				return 0, fmt.Errorf("bad time unit in %q", v)
			}
			v = v[1:]
		}
		if time.Duration(n) > max/unit {
			return 0, errors.New("time too large")
		}
		total += time.Duration(n) * unit
		if total > max {
			return 0, errors.New("time too large")
		}
	}
	return total, nil
}

// tokens are the values of OpenSSH's % tokens (ssh_config(5) TOKENS).
type tokens struct {
	home, host, hostName, remoteUser, localUser, jump string
	port                                              int
	getenv                                            func(string) string
}

// expandPath expands a leading ~ or ~user, then ${VAR}, then % tokens, in
// the order OpenSSH does for IdentityFile and friends.
func expandPath(p string, t tokens) (string, error) {
	if strings.HasPrefix(p, "~") {
		rest := p[1:]
		name, tail, _ := strings.Cut(rest, "/")
		dir := t.home
		if name != "" {
			u, err := user.Lookup(name)
			if err != nil {
				return "", fmt.Errorf("%q: unknown user %q", p, name)
			}
			dir = u.HomeDir
		}
		if tail != "" || strings.Contains(rest, "/") {
			p = dir + "/" + tail
		} else {
			p = dir
		}
	}
	p, err := expandEnv(p, t.getenv)
	if err != nil {
		return "", err
	}
	return expandTokens(p, t, "path")
}

// expandEnv expands ${VAR}; an unset variable is an error, as in OpenSSH.
func expandEnv(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q: unterminated ${", s)
		}
		name := s[i+2 : i+end]
		v := ""
		if getenv != nil {
			v = getenv(name)
		}
		if name == "" || v == "" {
			return "", fmt.Errorf("%q: environment variable %q is not set", s, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// expandTokens expands % tokens; an unknown one is an error, as in
// OpenSSH's percent_expand.
func expandTokens(s string, t tokens, what string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf("%s %q: trailing %%", what, s)
		}
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(t.home)
		case 'h':
			if t.hostName != "" {
				b.WriteString(t.hostName)
			} else {
				b.WriteString(t.host)
			}
		case 'n':
			b.WriteString(t.host)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.remoteUser)
		case 'u':
			b.WriteString(t.localUser)
		case 'i':
			b.WriteString(strconv.Itoa(os.Getuid()))
		case 'j':
			b.WriteString(t.jump)
		case 'l', 'L':
			h, _ := os.Hostname()
			if s[i] == 'L' {
				h, _, _ = strings.Cut(h, ".")
			}
			b.WriteString(h)
		case 'C':
			// %C: SHA1 of %l%h%p%r%j, as OpenSSH computes it for ControlPath.
			h, _ := os.Hostname()
			host := t.hostName
			if host == "" {
				host = t.host
			}
			sum := sha1.Sum([]byte(h + host + strconv.Itoa(t.port) + t.remoteUser + t.jump))
			b.WriteString(hex.EncodeToString(sum[:]))
		default:
			return "", fmt.Errorf("%s %q: unknown token %%%c", what, s, s[i])
		}
	}
	return b.String(), nil
}
