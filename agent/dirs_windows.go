package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// runtimeDir is under %LOCALAPPDATA%, whose ACL admits only this user.
func runtimeDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("agent: find runtime directory: %w", err)
	}
	return filepath.Join(base, "aws-sso-agent", "run"), nil
}

// checkPrivateDir trusts the inherited ACL of the user's profile; Unix
// mode bits mean nothing on Windows.
func checkPrivateDir(string, fs.FileInfo) error { return nil }

// checkPrivateFile trusts the inherited ACL of the user's profile, as
// checkPrivateDir does.
func checkPrivateFile(string, fs.FileInfo) error { return nil }
