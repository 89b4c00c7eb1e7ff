//go:build !unix

package remote

import (
	"errors"
	"io/fs"
)

var errUnsupported = errors.New("aws-sso-remote runs on Linux and macOS only")

func checkOwner(fs.FileInfo) error { return errUnsupported }

func processAlive(int) bool { return false }
