package e2e

import (
	"golang.org/x/crypto/ssh"
)

func sshMarshal(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }
