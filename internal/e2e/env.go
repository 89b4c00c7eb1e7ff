package e2e

import (
	"os"
	"strings"
	"testing"
)

// Region is the region every client is configured for. moto answers in any
// region; a fixed one keeps expected ARNs and endpoints stable.
const Region = "us-east-1"

// CleanEnv returns an environment built from scratch for a child process:
// the machine's PATH, HOME set to a fresh t.TempDir (so no ~/.aws, ~/.npmrc
// or CLI cache leaks in or out), LANG, and the region in both
// AWS_DEFAULT_REGION (the only one AWS CLI v1 reads) and AWS_REGION (the only
// one the JavaScript SDK reads). AWS_EC2_METADATA_DISABLED keeps a client
// whose real credential source failed from spending seconds probing IMDS.
//
// Nothing else is inherited: in particular no AWS_*, SSL_*, REQUESTS_* or
// NODE_EXTRA_CA_CERTS variable from the machine. Each extra is "NAME=value";
// an extra replaces a default of the same name, and a later extra replaces
// an earlier one.
func CleanEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"LANG=C.UTF-8",
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return MergeEnv(base, extra...)
}

// MergeEnv returns env with each "NAME=value" in extra set, replacing any
// earlier value of NAME. An extra without "=" removes NAME.
func MergeEnv(env []string, extra ...string) []string {
	out := append([]string(nil), env...)
	for _, kv := range extra {
		name, _, hasValue := strings.Cut(kv, "=")
		kept := out[:0]
		for _, old := range out {
			if n, _, _ := strings.Cut(old, "="); n != name {
				kept = append(kept, old)
			}
		}
		out = kept
		if hasValue {
			out = append(out, kv)
		}
	}
	return out
}

// Getenv returns the value of name in env, or "".
func Getenv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if n, v, ok := strings.Cut(env[i], "="); ok && n == name {
			return v
		}
	}
	return ""
}

// ContainerCredentialsEnv returns the variables that make every SDK fetch
// credentials from the container-credentials endpoint at url, sending the
// token read from tokenFile (which must not end in a newline: see
// TestClients/TokenFileWithNewline).
func ContainerCredentialsEnv(url, tokenFile string) []string {
	return []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + tokenFile,
	}
}
