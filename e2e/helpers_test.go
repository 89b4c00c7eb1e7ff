package e2e

import (
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

func sshMarshal(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }

// lockedScreen collects what a pseudo-terminal shows.
type lockedScreen struct {
	mu sync.Mutex
	sb strings.Builder
}

func (s *lockedScreen) copyFrom(r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		s.mu.Lock()
		s.sb.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *lockedScreen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sb.String()
}
