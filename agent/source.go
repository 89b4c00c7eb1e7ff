package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SourceSpec names where a slot's credentials come from: a profile of the
// user's AWS config, or an account and role within an IAM Identity Center
// (SSO) session of that config.
type SourceSpec struct {
	// Profile is a profile of the shared config or credentials file.
	Profile string

	// SSOSession, AccountID and RoleName pick a role of an [sso-session]
	// section directly, as `aws configure sso` would write into a profile.
	SSOSession string
	AccountID  string
	RoleName   string

	// ConfigFile and CredentialsFile are the user's AWS_CONFIG_FILE and
	// AWS_SHARED_CREDENTIALS_FILE, passed by the CLI so that the agent,
	// which may have been started with another environment, resolves the
	// config the user sees. Empty means the SDK's default: the agent's own
	// environment variable, else ~/.aws/config and ~/.aws/credentials.
	ConfigFile      string
	CredentialsFile string
}

// String describes the spec for people, without file paths.
func (s SourceSpec) String() string {
	if s.SSOSession != "" {
		return fmt.Sprintf("sso-session %s account %s role %s", s.SSOSession, s.AccountID, s.RoleName)
	}
	return "profile " + s.Profile
}

// Validate reports whether the spec names exactly one kind of source with
// well-formed values. The SSO session values end up in a config file the
// SDK parses (see ResolveSource), so they are checked strictly.
func (s SourceSpec) Validate() error {
	session := s.SSOSession != "" || s.AccountID != "" || s.RoleName != ""
	switch {
	case s.Profile != "" && session:
		return errors.New("source: name either a profile or an sso session with account and role, not both")
	case s.Profile != "":
		if !sourceIniValue(s.Profile) {
			return fmt.Errorf("source: profile name %q: must be printable, without brackets", s.Profile)
		}
		return nil
	case !session:
		return errors.New("source: name a profile, or an sso session with an account and a role")
	}
	if s.SSOSession == "" || s.AccountID == "" || s.RoleName == "" {
		return errors.New("source: an sso session source needs the session name, an account id and a role name")
	}
	if !sourceIniValue(s.SSOSession) {
		return fmt.Errorf("source: sso session name %q: must be printable, without brackets", s.SSOSession)
	}
	if !sourceAccountID(s.AccountID) {
		return fmt.Errorf("source: account id %q: want 12 digits", s.AccountID)
	}
	if !sourceRoleName(s.RoleName) {
		return fmt.Errorf("source: role name %q: want 1 to 64 of letters, digits and +=,.@_-", s.RoleName)
	}
	return nil
}

// sourceIniValue reports whether v can stand as a profile or section name
// or a value in the shared config file without changing its structure.
func sourceIniValue(v string) bool {
	if v == "" || len(v) > 256 || strings.TrimSpace(v) != v {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) || strings.ContainsRune("[]#;=", r) {
			return false
		}
	}
	return true
}

func sourceAccountID(v string) bool {
	if len(v) != 12 {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sourceRoleName follows IAM's role name rules (CreateRole: RoleName,
// pattern [\w+=,.@-]+, 1 to 64 characters).
func sourceRoleName(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("+=,.@_-", r)
		if !ok {
			return false
		}
	}
	return true
}

// SourceInfo describes a resolved source for people and for the endpoint.
type SourceInfo struct {
	// Description is a one-line summary, e.g.
	// "profile dev (assume role arn:aws:iam::111122223333:role/dev via profile base)".
	Description string
	// AccountID and RoleARN are filled in when the config says them; the
	// account may also come back with the credentials themselves.
	AccountID string
	RoleARN   string
	// Hint says what the user can do when the source fails, e.g.
	// "run: aws-sso-agent login --profile dev".
	Hint string
}

// SourceError is a source that could not be resolved or gave no
// credentials, with what the user can do about it. Its message never holds
// a secret.
type SourceError struct {
	Source   string // SourceSpec.String()
	Err      error
	HintText string
}

func (e *SourceError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Is reports whether target is ErrSourceFailed: every SourceError is one.
func (e *SourceError) Is(target error) bool { return target == ErrSourceFailed }

// Hint says what the user can do about the error (the control socket
// passes it on to the CLI).
func (e *SourceError) Hint() string { return e.HintText }

// sourceDefaultRegion is where STS calls go when neither the profile nor
// the environment names a region. us-east-1 is where the global STS
// endpoint lives, the region the SDKs used before regional endpoints.
const sourceDefaultRegion = "us-east-1"

// ResolveSource turns a spec into a credentials provider with aws-sdk-go-v2's
// own profile resolution, so that the agent accepts exactly the profiles
// the SDK and the AWS CLI accept: IAM Identity Center through the AWS CLI's
// token cache (sso_session and legacy sso_start_url profiles), role_arn
// chains (source_profile, credential_source), credential_process and static
// keys.
//
// The named profile always wins over the process environment: with an
// explicit profile the SDK ignores AWS_PROFILE and AWS_ACCESS_KEY_ID and
// friends (its resolveCredentialChain only looks at environment keys when
// no profile was given programmatically), except for a profile that asks
// for them with credential_source = Environment. A profile with no
// credentials of its own is refused rather than left to fall through to
// the container endpoint or instance metadata, which on a workstation
// running this agent could be the agent itself.
//
// The region for STS is the profile's, else AWS_REGION, else
// AWS_DEFAULT_REGION, else us-east-1. IAM Identity Center calls use the
// session's sso_region as the SDK does.
//
// A credential_process, alone or at the root of a role_arn chain, is run
// by the agent's own provider rather than the SDK's (see processProvider:
// a process group of its own, no stdin, stderr kept out of the log,
// bounded output), given DefaultSourceTimeout; Slots.LoadSource gives it
// the slots' SourceTimeout instead. That provider is returned uncached:
// the SDK's cache would detach it from the caller's context, so an unload
// could not stop a running process.
//
// Other providers are the SDK's aws.CredentialsCache; Slots invalidates
// it before each refresh so the SDK's cache never hides the real expiry
// or serves its own copy.
//
// Errors, other than an invalid spec's, are *SourceError with a Hint.
func ResolveSource(ctx context.Context, spec SourceSpec) (aws.CredentialsProvider, SourceInfo, error) {
	return resolveSource(ctx, spec, DefaultSourceTimeout)
}

func resolveSource(ctx context.Context, spec SourceSpec, timeout time.Duration) (aws.CredentialsProvider, SourceInfo, error) {
	if err := spec.Validate(); err != nil {
		return nil, SourceInfo{}, err
	}
	configFile := sourceFile(spec.ConfigFile, "AWS_CONFIG_FILE", config.DefaultSharedConfigFilename())
	credsFile := sourceFile(spec.CredentialsFile, "AWS_SHARED_CREDENTIALS_FILE", config.DefaultSharedCredentialsFilename())
	configFiles := []string{configFile}

	profile := spec.Profile
	if spec.SSOSession != "" {
		// The SDK builds IAM Identity Center credentials only from a
		// profile. Rather than copy its wiring (ssocreds provider, token
		// provider with OIDC refresh, cache path, sso_region), write a
		// profile that uses the session, as `aws configure sso` would, in a
		// file of its own, and hand the SDK both files: it merges the
		// sections of all config files, so the [sso-session] comes from
		// the user's config unchanged. The values were validated so they
		// cannot alter the file's structure, and the file (no secret in
		// it) is removed once the SDK has read it; the provider never
		// reads config files again.
		synthetic, cleanup, err := sourceSyntheticProfile(spec)
		if err != nil {
			return nil, SourceInfo{}, &SourceError{Source: spec.String(), Err: err}
		}
		defer cleanup()
		profile = synthetic.profile
		configFiles = append(configFiles, synthetic.file)
	}

	info := SourceInfo{}
	fail := func(err error) (aws.CredentialsProvider, SourceInfo, error) {
		return nil, SourceInfo{}, &SourceError{Source: spec.String(), Err: err, HintText: info.Hint}
	}

	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = configFiles
		o.CredentialsFiles = []string{credsFile}
	})
	if err != nil {
		var notExist config.SharedConfigProfileNotExistError
		if errors.As(err, &notExist) {
			info.Hint = "list profiles with: aws configure list-profiles"
			return fail(fmt.Errorf("no such profile in %s or %s", configFile, credsFile))
		}
		if spec.SSOSession != "" && strings.Contains(err.Error(), "SSO session section") {
			info.Hint = "configure it with: aws configure sso-session"
			return fail(fmt.Errorf("no [sso-session %s] section in %s", spec.SSOSession, configFile))
		}
		return fail(fmt.Errorf("read config: %w", err))
	}
	info = sourceDescribe(spec, &sc)
	if !sourceHasCredentials(&sc) {
		info.Hint = "give the profile credentials: aws configure sso --profile " + spec.Profile + ", or role_arn, credential_process or keys"
		return fail(errors.New("profile has no credentials: no access keys, role_arn, sso settings or credential_process"))
	}
	if sc.MFASerial != "" {
		info.Hint = "the agent cannot prompt for MFA codes; use IAM Identity Center or a credential_process for this role"
		return fail(errors.New("profile needs an MFA code (mfa_serial)"))
	}

	region := sc.Region
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(env)
		}
	}
	if region == "" {
		region = sourceDefaultRegion
	}

	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithSharedConfigProfile(profile),
		config.WithSharedConfigFiles(configFiles),
		config.WithSharedCredentialsFiles([]string{credsFile}),
		config.WithRegion(region),
		// Every role the chain assumes gets a name people can read in
		// CloudTrail, unless its profile names one (the SDK's own
		// options run first and set the profile's).
		config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
			if o.RoleSessionName == "" {
				o.RoleSessionName = RoleSessionName()
			}
		}),
		config.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
			if o.RoleSessionName == "" {
				o.RoleSessionName = RoleSessionName()
			}
		}),
	)
	if err != nil {
		return fail(fmt.Errorf("resolve: %w", err))
	}
	if cfg.Credentials == nil {
		return fail(errors.New("resolve: the sdk found no credentials provider"))
	}
	if sourceProcessRoot(&sc) != nil {
		// The SDK has checked the chain (MFA, missing source profiles);
		// its provider is replaced before it ever runs.
		return sourceProcessChain(cfg, &sc, timeout), info, nil
	}
	return cfg.Credentials, info, nil
}

// sourceProcessRoot returns the profile at the root of sc's chain if the
// SDK would get that profile's credentials from its credential_process,
// else nil. The order is that of the SDK's resolveCredsFromProfile: a
// source_profile first, then keys, credential_source, a web identity
// token, IAM Identity Center and aws login all win over credential_process.
func sourceProcessRoot(sc *config.SharedConfig) *config.SharedConfig {
	for sc.Source != nil {
		sc = sc.Source
	}
	if sc.Credentials.HasKeys() || sc.CredentialSource != "" || sc.WebIdentityTokenFile != "" ||
		sc.SSOSessionName != "" || sc.SSOStartURL != "" || sc.LoginSession != "" || sc.CredentialProcess == "" {
		return nil
	}
	return sc
}

// sourceProcessChain builds the provider of a chain rooted in a
// credential_process as the SDK's resolveCredsFromProfile and
// credsFromAssumeRole do: the root's process, then an AssumeRole for each
// profile with a role_arn, each signed with the credentials below it.
// cfg is what config.LoadDefaultConfig made of the profile: its region,
// endpoints and retryer serve the STS calls.
func sourceProcessChain(cfg aws.Config, sc *config.SharedConfig, timeout time.Duration) aws.CredentialsProvider {
	var p aws.CredentialsProvider
	if sc.Source != nil {
		p = sourceProcessChain(cfg, sc.Source, timeout)
	} else {
		p = &processProvider{command: sc.CredentialProcess, timeout: timeout}
	}
	if sc.RoleARN == "" {
		return p
	}
	cfg.Credentials = p
	return stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), sc.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sc.RoleSessionName
		if o.RoleSessionName == "" {
			o.RoleSessionName = RoleSessionName()
		}
		// As in the SDK: 15 minutes is STS's least duration, and one
		// not above it leaves the role's default.
		if d := sc.RoleDurationSeconds; d != nil && *d/time.Minute > 15 {
			o.Duration = *d
		}
		if sc.ExternalID != "" {
			o.ExternalID = aws.String(sc.ExternalID)
		}
	})
}

// sourceFile is the file the SDK would use: the one the CLI passed, else
// the environment variable, else the default path.
func sourceFile(given, env, def string) string {
	if given != "" {
		return given
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

type sourceSynthetic struct {
	profile string
	file    string
}

func sourceSyntheticProfile(spec SourceSpec) (sourceSynthetic, func(), error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return sourceSynthetic{}, nil, err
	}
	// A random name cannot collide with a profile of the user's config,
	// which would merge with it.
	name := "aws-sso-agent-" + hex.EncodeToString(b[:])
	dir, err := os.MkdirTemp("", "aws-sso-agent-source-")
	if err != nil {
		return sourceSynthetic{}, nil, fmt.Errorf("write session profile: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "config")
	text := fmt.Sprintf("[profile %s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = %s\n",
		name, spec.SSOSession, spec.AccountID, spec.RoleName)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		cleanup()
		return sourceSynthetic{}, nil, fmt.Errorf("write session profile: %w", err)
	}
	return sourceSynthetic{profile: name, file: file}, cleanup, nil
}

// sourceHasCredentials reports whether the profile itself says where its
// credentials come from, in the order the SDK's resolveCredsFromProfile
// tries them.
func sourceHasCredentials(sc *config.SharedConfig) bool {
	return sc.Source != nil ||
		sc.Credentials.HasKeys() ||
		sc.CredentialSource != "" ||
		sc.WebIdentityTokenFile != "" ||
		sc.SSOSessionName != "" || sc.SSOStartURL != "" ||
		sc.LoginSession != "" ||
		sc.CredentialProcess != ""
}

// sourceDescribe summarises a profile: what it is, the role and account
// where the config says them, and the hint for failures.
func sourceDescribe(spec SourceSpec, sc *config.SharedConfig) SourceInfo {
	info := SourceInfo{RoleARN: sc.RoleARN}
	name := "profile " + spec.Profile
	login := "--profile " + spec.Profile
	if spec.SSOSession != "" {
		name = "sso-session " + spec.SSOSession
		login = "--sso-session " + spec.SSOSession
	}

	var how string
	switch {
	case sc.RoleARN != "":
		how = "assume role " + sc.RoleARN
		switch {
		case sc.SourceProfileName != "":
			how += " via profile " + sc.SourceProfileName
		case sc.CredentialSource != "":
			how += " via credential_source " + sc.CredentialSource
		case sc.WebIdentityTokenFile != "":
			how += " with a web identity token"
		}
		if a, err := arn.Parse(sc.RoleARN); err == nil {
			info.AccountID = a.AccountID
		}
	case sc.SSOAccountID != "":
		how = fmt.Sprintf("IAM Identity Center account %s role %s", sc.SSOAccountID, sc.SSORoleName)
		info.AccountID = sc.SSOAccountID
	case sc.CredentialProcess != "":
		// Not the command itself: people put arguments in it that are
		// nobody else's business.
		how = "credential_process"
	case sc.Credentials.HasKeys():
		how = "static keys"
		info.AccountID = sc.Credentials.AccountID
	case sc.LoginSession != "":
		how = "aws login session"
	}
	if spec.SSOSession != "" {
		info.Description = fmt.Sprintf("sso-session %s (account %s role %s)", spec.SSOSession, spec.AccountID, spec.RoleName)
	} else if how != "" {
		info.Description = name + " (" + how + ")"
	} else {
		info.Description = name
	}

	// The hint names the first thing in the chain a person can fix.
	switch {
	case sourceUsesSSO(sc):
		info.Hint = "run: aws-sso-agent login " + login
	case sourceUsesProcess(sc):
		info.Hint = "run the credential_process of " + name + " by hand to see why it fails"
	case sc.LoginSession != "":
		info.Hint = "run: aws login " + login
	default:
		info.Hint = "check " + name + " with: aws sts get-caller-identity " + login
	}
	return info
}

func sourceUsesSSO(sc *config.SharedConfig) bool {
	for ; sc != nil; sc = sc.Source {
		if sc.SSOSessionName != "" || sc.SSOStartURL != "" {
			return true
		}
	}
	return false
}

func sourceUsesProcess(sc *config.SharedConfig) bool { return sourceProcessRoot(sc) != nil }

// sourceHint is the hint of a failed load: the source's own, after the
// start of the credential_process's stderr when it wrote any. That
// excerpt goes to the person loading the source alone, never to the log
// (see ProcessError).
func sourceHint(err error, hint string) string {
	var pe *ProcessError
	if !errors.As(err, &pe) || pe.Stderr == "" {
		return hint
	}
	excerpt := "its stderr began: " + pe.Stderr
	if pe.StderrBytes <= processStderrExcerpt {
		excerpt = "its stderr: " + pe.Stderr
	}
	if hint == "" {
		return excerpt
	}
	return excerpt + "\n" + hint
}

// sourceFailure explains a provider's failure in words safe to log and to
// send to clients. Known secrets (the slot's current credentials) are cut
// out of the message, and a credential_process whose output did not parse
// is described without that output: the SDK quotes it whole, and it is
// made of credentials.
func sourceFailure(err error, secrets ...string) string {
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) && strings.Contains(pe.Error(), "parse failed of process output") {
		return "credential_process printed output that is not credentials JSON (output withheld)"
	}
	// aws.CredentialsCache's wrapping says nothing people can use.
	msg := strings.TrimPrefix(err.Error(), "failed to refresh cached credentials, ")
	for _, s := range secrets {
		if len(s) >= 8 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// RoleSessionName is the session name of the roles the agent assumes for
// a profile that sets no role_session_name: "aws-sso-agent-USER", so that
// CloudTrail tells who acted through which tool. The SDK's default,
// "aws-go-sdk-" and a timestamp, says neither.
func RoleSessionName() string {
	return roleSessionName(sourceUserName())
}

// roleSessionName builds the name for user within STS's rules for
// RoleSessionName: 2 to 64 characters of [\w+=,.@-]. Other characters
// (a Windows DOMAIN\user, a space) become '-'.
func roleSessionName(user string) string {
	const prefix = "aws-sso-agent-"
	const maxLen = 64
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range user {
		if b.Len() >= maxLen {
			break
		}
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)
		if !ok {
			r = '-'
		}
		b.WriteRune(r)
	}
	name := b.String()
	if name == prefix {
		return "aws-sso-agent"
	}
	return name
}

// sourceUserName is the name of the user the agent runs as: the
// account's name, else $USER or %USERNAME%.
func sourceUserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, env := range []string{"USER", "USERNAME"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return ""
}
