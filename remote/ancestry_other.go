//go:build !linux && !darwin

package remote

import "errors"

func ancestorsOf(int) ([]int, error) {
	return nil, errors.New("remote: finding the session by process ancestry is supported on Linux and macOS only: pass --session ID")
}
