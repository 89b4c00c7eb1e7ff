package store

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// checkPrivate does nothing on Windows: Unix mode bits mean nothing there,
// and the user's profile directory's ACL keeps other users out.
func checkPrivate(string, fs.FileInfo) error { return nil }

// checkDir does nothing on Windows; see checkPrivate.
func checkDir(string) error { return nil }

// lockFile takes an exclusive LockFileEx lock on path, creating it, and
// returns the function that releases it.
func lockFile(path string) (unlock func(), err error) {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	h := windows.Handle(fh.Fd())
	ol := new(windows.Overlapped)
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol); err != nil {
		fh.Close()
		return nil, err
	}
	return func() {
		windows.UnlockFileEx(h, 0, 1, 0, ol)
		fh.Close()
	}, nil
}

// syncDir does nothing on Windows, where directories cannot be fsynced;
// MoveFileEx's replace is what makes the rename atomic there.
func syncDir(string) error { return nil }
