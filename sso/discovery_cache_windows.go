package sso

import (
	"errors"
	"io/fs"
)

// checkPrivateFile refuses what is not a regular file. Files under the
// user's profile directory are private by its ACL; Go reports no owner or
// permission bits on Windows.
func checkPrivateFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}
