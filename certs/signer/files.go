package signer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// errNoFQDN wraps fs.ErrNotExist: settings without a name are as good as
// none for renewing.
var errNoFQDN = fmt.Errorf("no name in %s: %w", SettingsFile, fs.ErrNotExist)

func removeIfExists(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
