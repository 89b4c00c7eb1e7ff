package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// NodeSDKVersion is the @aws-sdk/client-sts release NodeSDK installs: the one
// docs/sdk-compatibility.md was measured with. Pinned so a new release cannot change
// a test's outcome unnoticed; raise it deliberately.
const NodeSDKVersion = "3.1169.0"

// NodeCacheEnv names the variable that overrides where NodeSDK installs the
// JavaScript SDK (default: os.UserCacheDir()/aws-sso-agent-e2e/node).
const NodeCacheEnv = "AWS_SSO_AGENT_NODE_CACHE"

// npmTimeout bounds `npm install`: about 3 s with a warm npm cache, 10-30 s
// cold; several minutes means the registry is unreachable.
const npmTimeout = 5 * time.Minute

// nodeScript uses the client's default credential chain
// (fromNodeProviderChain, which reads AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) and default endpoint resolution
// (which reads AWS_ENDPOINT_URL_STS, checked in @smithy/core's
// getEndpointUrlConfig). CommonJS, so require finds the cache's node_modules.
const nodeScript = `const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
(async () => {
  const out = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  process.stdout.write(out.Arn + "\n");
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
`

// NodeSDK runs a script using @aws-sdk/client-sts with the default client
// configuration. The first call in a test process installs the SDK with npm
// into the cache directory (NodeCacheEnv), never into the repository; if npm
// cannot, the test is skipped (see PeerMissing).
func NodeSDK(t testing.TB, env []string) (string, error) {
	t.Helper()
	node := lookPath(t, "node", "install Node.js 18 or later")
	script, err := installNodeSDK()
	if err != nil {
		PeerMissing(t, "%v", err)
	}
	return runClient("node-sdk", env, node, script)
}

var nodeClient struct {
	once   sync.Once
	script string
	err    error
}

// NodeCacheDir returns the directory NodeSDK installs into.
func NodeCacheDir() (string, error) {
	if dir := os.Getenv(NodeCacheEnv); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("e2e: node cache directory: %w (set %s)", err, NodeCacheEnv)
	}
	return filepath.Join(dir, "aws-sso-agent-e2e", "node"), nil
}

func installNodeSDK() (string, error) {
	nodeClient.once.Do(func() {
		nodeClient.script, nodeClient.err = installNodeSDKOnce()
	})
	return nodeClient.script, nodeClient.err
}

func installNodeSDKOnce() (string, error) {
	dir, err := NodeCacheDir()
	if err != nil {
		return "", err
	}
	return installNodePackage(dir, "@aws-sdk/client-sts@"+NodeSDKVersion, "stsclient.cjs", nodeScript)
}

// installNodePackage installs spec with npm into dir, unless the last
// install there was of spec, writes script into dir as name and returns
// its path.
func installNodePackage(dir, spec, name, script string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("e2e: node cache: %w", err)
	}
	// Test processes of several packages may install at once.
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("e2e: node cache: %w", err)
	}
	defer unlock()

	stamp := filepath.Join(dir, ".installed")
	if got, _ := os.ReadFile(stamp); string(got) != spec {
		if err := npmInstall(dir, spec); err != nil {
			return "", err
		}
		if err := os.WriteFile(stamp, []byte(spec), 0o644); err != nil {
			return "", fmt.Errorf("e2e: node cache: %w", err)
		}
	}
	path := filepath.Join(dir, name)
	if got, _ := os.ReadFile(path); string(got) != script {
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			return "", fmt.Errorf("e2e: node cache: %w", err)
		}
	}
	return path, nil
}

// npmInstall installs spec into dir with the machine's environment: this is
// setup, not a measurement, and npm needs the machine's registry, proxy and
// CA settings.
func npmInstall(dir, spec string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm not found in PATH, cannot install %s", spec)
	}
	pkg := filepath.Join(dir, "package.json")
	if err := os.WriteFile(pkg, []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		return fmt.Errorf("e2e: node cache: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-package-lock", spec)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", npmTimeout)
		}
		return fmt.Errorf("npm install %s in %s failed: %v\n%s", spec, dir, err, out.Bytes())
	}
	return nil
}
