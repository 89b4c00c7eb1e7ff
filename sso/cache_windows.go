package sso

import (
	"errors"
	"io/fs"
)

// checkPrivateFile refuses only what is not a regular file: the profile
// directory's ACL keeps other users out on Windows, and Go reports no
// owner or permission bits there.
func checkPrivateFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}
