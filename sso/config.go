package sso

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultScope is what a registration asks for when the session names no
// sso_registration_scopes: with it the service issues refresh tokens
// (without any scope it issues 8-hour tokens and none), and it is the
// scope the AWS CLI v2 asks for (`aws configure sso-session`'s default).
const DefaultScope = "sso:account:access"

// Session is an IAM Identity Center login: an [sso-session] section of
// the shared config, or the sso_start_url and sso_region of a legacy
// profile without one.
type Session struct {
	// Name is the sso-session's name; "" for a legacy profile.
	Name     string
	StartURL string
	// Region is sso_region: where the OIDC service and the portal are.
	Region string
	// Scopes are sso_registration_scopes; nil for a legacy profile,
	// which registers without scopes as the AWS CLI does.
	Scopes []string
	// Profile is the profile the session was found through, "" when it
	// was named directly. Its services section can override endpoints.
	Profile string
}

// CacheKey is what names the session's cache file: the session name, or
// the start URL of a legacy profile.
func (s Session) CacheKey() string {
	if s.Name != "" {
		return s.Name
	}
	return s.StartURL
}

// String names the session for people.
func (s Session) String() string {
	if s.Name != "" {
		return "sso-session " + s.Name
	}
	if s.Profile != "" {
		return "profile " + s.Profile
	}
	return "start url " + s.StartURL
}

// LoginFlags are the flags that name the session to `aws-sso-agent
// login` (and logout), "" for a start URL found through no profile.
func (s Session) LoginFlags() string {
	if s.Name != "" {
		return "--sso-session " + s.Name
	}
	if s.Profile != "" {
		return "--profile " + s.Profile
	}
	return ""
}

// ConfigFile is the shared config file the SDKs read: configFile if not
// empty, else AWS_CONFIG_FILE, else ~/.aws/config.
func ConfigFile(configFile string) string {
	if configFile != "" {
		return configFile
	}
	if v := os.Getenv("AWS_CONFIG_FILE"); v != "" {
		return v
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".aws", "config")
}

// LoadSession finds the session to log in to in the shared config file
// (ConfigFile(configFile)): the [sso-session NAME] section when
// sessionName is set, else the session of profile (its sso_session, or
// its own sso_start_url and sso_region).
func LoadSession(configFile, sessionName, profile string) (Session, error) {
	path := ConfigFile(configFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Session{}, fmt.Errorf("sso: read config: %w", err)
	}
	ini, err := parseINI(data)
	if err != nil {
		return Session{}, fmt.Errorf("sso: read config %s: %w", path, err)
	}
	return ini.session(path, sessionName, profile)
}

func (ini iniFile) session(path, sessionName, profile string) (Session, error) {
	if sessionName == "" {
		if profile == "" {
			return Session{}, errors.New("sso: name an sso-session or a profile")
		}
		p := ini.profile(profile)
		if p == nil {
			return Session{}, fmt.Errorf("sso: no profile %s in %s", profile, path)
		}
		for depth := 0; p["sso_session"] == "" && p["sso_start_url"] == "" && p["source_profile"] != ""; depth++ {
			// A role_arn chain: the session is at its root.
			if depth == 10 {
				return Session{}, fmt.Errorf("sso: profile %s in %s: source_profile chain too long", profile, path)
			}
			if p = ini.profile(p["source_profile"]); p == nil {
				return Session{}, fmt.Errorf("sso: profile %s in %s: %w", profile, path, errNoSSO)
			}
		}
		if p["sso_session"] == "" {
			if p["sso_start_url"] == "" {
				return Session{}, fmt.Errorf("sso: profile %s in %s: %w", profile, path, errNoSSO)
			}
			if p["sso_region"] == "" {
				return Session{}, fmt.Errorf("sso: profile %s in %s has sso_start_url but no sso_region", profile, path)
			}
			return Session{StartURL: p["sso_start_url"], Region: p["sso_region"], Profile: profile}, nil
		}
		sessionName = p["sso_session"]
	}
	sec := ini["sso-session "+sessionName]
	if sec == nil {
		return Session{}, fmt.Errorf("sso: no [sso-session %s] section in %s", sessionName, path)
	}
	s := Session{Name: sessionName, StartURL: sec["sso_start_url"], Region: sec["sso_region"], Profile: profile}
	if s.StartURL == "" || s.Region == "" {
		return Session{}, fmt.Errorf("sso: [sso-session %s] in %s needs sso_start_url and sso_region", sessionName, path)
	}
	for _, sc := range strings.Split(sec["sso_registration_scopes"], ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			s.Scopes = append(s.Scopes, sc)
		}
	}
	if len(s.Scopes) == 0 {
		s.Scopes = []string{DefaultScope}
	}
	return s, nil
}

// errNoSSO is a profile whose chain has no IAM Identity Center session.
var errNoSSO = errors.New("no sso_session or sso_start_url")

// profile is the section of a profile: [profile NAME], or [default].
func (ini iniFile) profile(name string) map[string]string {
	if p := ini["profile "+name]; p != nil || name != "default" {
		return p
	}
	return ini["default"]
}

// iniFile is the shared config's sections and their top-level keys.
// Sub-properties (the indented lines of a services section) are skipped:
// the SDK reads those itself.
type iniFile map[string]map[string]string

// maxConfigLine bounds one line of the config file.
const maxConfigLine = 1 << 20

// parseINI reads the shared config format as botocore's raw_config_parse
// does for what a login needs: [section] headers with the name trimmed,
// "key = value" lines with keys kept as written (the SDKs are case
// sensitive), comments starting with # or ;, and
// indented continuation lines belonging to the key above.
func parseINI(data []byte) (iniFile, error) {
	ini := iniFile{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxConfigLine)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			continue // a sub-property or continuation line
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: section header without ]", n)
			}
			name := strings.Join(strings.Fields(line[1:end]), " ")
			if ini[name] == nil {
				ini[name] = map[string]string{}
			}
			cur = ini[name]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: neither a section nor key = value", n)
		}
		if cur == nil {
			continue // keys before any section belong to none
		}
		cur[strings.TrimSpace(key)] = iniValue(value)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line longer than %d bytes", maxConfigLine)
		}
		return nil, err
	}
	return ini, nil
}

// iniValue trims a value and cuts an inline comment, which needs
// whitespace before its # or ; (so URLs with # fragments survive).
func iniValue(v string) string {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimSpace(v)
}
