//go:build !unix && !windows

package sso

import (
	"errors"
	"io/fs"
)

// checkPrivateFile refuses only what is not a regular file: these systems
// report no owner to check.
func checkPrivateFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}
