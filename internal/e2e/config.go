package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BaseProfile is the profile with moto's static keys that role profiles use
// as their source_profile.
const BaseProfile = "moto"

// RoleProfile describes a profile that assumes a role through moto's STS.
type RoleProfile struct {
	Name    string // profile name
	Role    string // role name in Account
	Session string // role_session_name; fixed so the ARN is predictable ("": none in the profile)
	// DurationSeconds defaults to 3600: moto's own default, 900 s, is inside
	// every SDK's refresh window, so a client would refetch on every call.
	DurationSeconds int
}

// RoleARN returns the role the profile assumes.
func (p RoleProfile) RoleARN() string { return RoleARN(p.Role) }

// AssumedRoleARN returns the caller identity of the profile's credentials.
func (p RoleProfile) AssumedRoleARN() string { return AssumedRoleARN(p.Role, p.Session) }

// DefaultRoleProfile is the profile WriteAWSConfig writes when given none.
var DefaultRoleProfile = RoleProfile{Name: "e2e", Role: "e2e-role", Session: "e2e-session"}

// AWSConfig is a shared config and credentials file pair for moto.
type AWSConfig struct {
	ConfigFile      string // AWS_CONFIG_FILE
	CredentialsFile string // AWS_SHARED_CREDENTIALS_FILE
	Profiles        []RoleProfile
}

// Env returns the variables that point a client at the files.
func (c *AWSConfig) Env() []string {
	return []string{
		"AWS_CONFIG_FILE=" + c.ConfigFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + c.CredentialsFile,
	}
}

// servicesSection names the [services ...] section that points STS at moto.
const servicesSection = "moto"

// WriteAWSConfig writes "config" and "credentials" into dir: BaseProfile with
// moto's static keys, and one profile per RoleProfile (DefaultRoleProfile if
// none) assuming its role with BaseProfile as source_profile.
//
// Every profile names a [services moto] section with moto's STS endpoint:
// aws-sdk-go-v2 ignores a profile's own endpoint_url for the AssumeRole call
// of a source_profile chain and would go to the real STS, while the services
// section works for Go, botocore and JavaScript alike.
func WriteAWSConfig(t testing.TB, dir string, moto *Moto, profiles ...RoleProfile) *AWSConfig {
	t.Helper()
	if len(profiles) == 0 {
		profiles = []RoleProfile{DefaultRoleProfile}
	}
	profiles = append([]RoleProfile(nil), profiles...) // defaults filled in below
	var b strings.Builder
	fmt.Fprintf(&b, "[profile %s]\nregion = %s\nservices = %s\n\n", BaseProfile, Region, servicesSection)
	for i, p := range profiles {
		if p.DurationSeconds == 0 {
			p.DurationSeconds = 3600
			profiles[i] = p
		}
		session := ""
		if p.Session != "" {
			session = "role_session_name = " + p.Session + "\n"
		}
		fmt.Fprintf(&b, "[profile %s]\nrole_arn = %s\nsource_profile = %s\n%sduration_seconds = %d\nregion = %s\nservices = %s\n\n",
			p.Name, p.RoleARN(), BaseProfile, session, p.DurationSeconds, Region, servicesSection)
	}
	fmt.Fprintf(&b, "[services %s]\nsts =\n  endpoint_url = %s\n", servicesSection, moto.Endpoint)

	creds := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		BaseProfile, StaticAccessKeyID, StaticSecretAccessKey)

	c := &AWSConfig{
		ConfigFile:      filepath.Join(dir, "config"),
		CredentialsFile: filepath.Join(dir, "credentials"),
		Profiles:        profiles,
	}
	for path, content := range map[string]string{c.ConfigFile: b.String(), c.CredentialsFile: creds} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("e2e: write AWS config: %v", err)
		}
	}
	return c
}
