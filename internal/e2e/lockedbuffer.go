package e2e

import (
	"bytes"
	"io"
	"sync"
)

// LockedBuffer is a bytes.Buffer safe for one writer and many readers at
// once: a child process's output, or what a pseudo-terminal shows, read
// by the test while it is written.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CopyFrom writes what r yields until it fails (a closed pseudo-terminal
// ends with EIO, not EOF).
func (l *LockedBuffer) CopyFrom(r io.Reader) { io.Copy(l, r) }
