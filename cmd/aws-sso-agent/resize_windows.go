package main

import (
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// followResize polls the console size: Windows has no SIGWINCH.
func followResize(s *ssh.Session, tty *os.File) (stop func()) {
	done := make(chan struct{})
	go func() {
		w0, h0, _ := term.GetSize(int(tty.Fd()))
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if w, h, err := term.GetSize(int(tty.Fd())); err == nil && (w != w0 || h != h0) {
					w0, h0 = w, h
					s.WindowChange(h, w)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
