package main

import (
	"net"
	"strconv"
	"testing"
)

func strconvItoa(n int) string { return strconv.Itoa(n) }

// freePort returns a port nothing listens on (it was free a moment ago).
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
