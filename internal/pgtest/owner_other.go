//go:build !unix

package pgtest

import "os/exec"

func prepareOwner(dir string) (func(*exec.Cmd), error) { return func(*exec.Cmd) {}, nil }
