package forward

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// maxPassphraseTries is OpenSSH's number of passphrase prompts per key
// (sshconnect2.c load_identity_file: "quit after 3 tries").
const maxPassphraseTries = 3

// authMethods builds the auth methods for cfg. Agent keys and key files go
// into ONE PublicKeysCallback: x/crypto tries only the first method of
// each kind. The returned closer releases the agent connection.
func authMethods(cfg *Config) ([]ssh.AuthMethod, io.Closer, error) {
	var (
		signers []ssh.Signer
		closer  io.Closer = nopCloser{}
		seen              = map[string]bool{}
	)
	// Public keys of the identity files, for IdentitiesOnly filtering of
	// agent keys and for not asking a passphrase the agent makes useless.
	var files []identityFile
	for _, f := range cfg.IdentityFiles {
		pub := readPublicKey(f)
		if pub == nil {
			if _, err := os.Stat(f); err != nil {
				continue // OpenSSH silently skips default identities that do not exist
			}
		}
		files = append(files, identityFile{f, pub})
	}

	if cfg.IdentityAgent != "" {
		conn, err := dialAgent(cfg.IdentityAgent)
		if err != nil {
			// OpenSSH carries on without the agent; so do we, but say so.
			logf(cfg, "ssh-agent unreachable, continuing without it", "socket", cfg.IdentityAgent, "err", err)
		} else {
			closer = conn
			agentSigners, err := agent.NewClient(conn).Signers()
			if err != nil {
				conn.Close()
				return nil, nil, fmt.Errorf("forward: list ssh-agent keys: %w", err)
			}
			// OpenSSH's order (sshconnect2.c pubkey_prepare): agent keys
			// named by an IdentityFile first, then the agent's others
			// (unless IdentitiesOnly), then the files the agent lacks.
			// It matters: sshd's MaxAuthTries (default 6) counts every
			// key offered, so a full agent can lock out the right key.
			var preferred, others []ssh.Signer
			for _, s := range agentSigners {
				k := string(s.PublicKey().Marshal())
				if seen[k] {
					continue
				}
				if fileHasKey(files, s.PublicKey()) {
					seen[k] = true
					preferred = append(preferred, s)
				} else if !cfg.IdentitiesOnly {
					seen[k] = true
					others = append(others, s)
				}
			}
			signers = append(preferred, others...)
		}
	}

	for _, f := range files {
		if f.pub != nil && seen[string(f.pub.Marshal())] {
			continue // the agent holds it: no passphrase needed
		}
		s, err := loadKeyFile(cfg, f.path)
		if err != nil {
			closer.Close()
			return nil, nil, err
		}
		if s == nil {
			continue
		}
		// A certificate next to the key (FILE-cert.pub), as OpenSSH
		// loads it: offered first, then the plain key.
		if cs := certSigner(cfg, f.path, s); cs != nil {
			if k := string(cs.PublicKey().Marshal()); !seen[k] {
				seen[k] = true
				signers = append(signers, cs)
			}
		}
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			signers = append(signers, s)
		}
	}

	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if cfg.Prompt != nil && !cfg.BatchMode {
		if cfg.KbdInteractiveAuthentication {
			methods = append(methods, ssh.KeyboardInteractive(cfg.Prompt.KeyboardInteractive))
		}
		if cfg.PasswordAuthentication {
			user, host := cfg.User, cfg.HostName
			methods = append(methods, ssh.PasswordCallback(func() (string, error) {
				return cfg.Prompt.Password(user, host)
			}))
		}
	}
	return methods, closer, nil
}

// identityFile is a key file and, when known, its public key.
type identityFile struct {
	path string
	pub  ssh.PublicKey // nil when unknown until decrypted
}

func fileHasKey(files []identityFile, pub ssh.PublicKey) bool {
	for _, f := range files {
		if f.pub != nil && bytes.Equal(f.pub.Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// readPublicKey returns the public key of a key file: from FILE.pub, or
// from the file itself when it is an OpenSSH-format key (public part in
// the clear even when encrypted), or nil.
func readPublicKey(file string) ssh.PublicKey {
	if b, err := os.ReadFile(file + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			return pub
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	if s, err := ssh.ParsePrivateKey(b); err == nil {
		return s.PublicKey()
	} else if pm := (*ssh.PassphraseMissingError)(nil); errors.As(err, &pm) && pm.PublicKey != nil {
		return pm.PublicKey
	}
	return nil
}

// loadKeyFile returns a signer for file. An encrypted key becomes a lazy
// signer that asks its passphrase only when the server accepts its public
// key, as OpenSSH does; in batch mode (or with no Prompter, or when the
// public half is unknown) it is skipped. nil, nil means skipped.
func loadKeyFile(cfg *Config, file string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		logf(cfg, "identity file unreadable, skipped", "file", file, "err", err)
		return nil, nil
	}
	s, err := ssh.ParsePrivateKey(b)
	if err == nil {
		return s, nil
	}
	var pm *ssh.PassphraseMissingError
	if !errors.As(err, &pm) {
		// Not a private key we understand (a .pub given by mistake, a
		// PKCS#11 stub): OpenSSH warns and goes on.
		logf(cfg, "identity file not usable, skipped", "file", file, "err", err)
		return nil, nil
	}
	if cfg.BatchMode || cfg.Prompt == nil {
		logf(cfg, "encrypted identity file skipped: nobody to ask its passphrase", "file", file)
		return nil, nil
	}
	pub := pm.PublicKey
	if pub == nil {
		pub = readPublicKey(file)
	}
	if pub == nil {
		// No public half: decrypt now (PEM-encrypted legacy keys).
		return decryptKey(cfg, file, b)
	}
	return &lazySigner{cfg: cfg, file: file, pem: b, pub: pub}, nil
}

func decryptKey(cfg *Config, file string, pemBytes []byte) (ssh.Signer, error) {
	var lastErr error
	for i := 0; i < maxPassphraseTries; i++ {
		pass, err := cfg.Prompt.Passphrase(file)
		if err != nil {
			return nil, fmt.Errorf("forward: passphrase for %s: %w", file, err)
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(pemBytes, pass)
		clear(pass)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, x509.IncorrectPasswordError) {
			break // not a wrong passphrase: asking again will not help
		}
	}
	return nil, fmt.Errorf("forward: decrypt %s: %w", file, lastErr)
}

// lazySigner holds an encrypted key and decrypts it on first use.
type lazySigner struct {
	cfg  *Config
	file string
	pem  []byte
	pub  ssh.PublicKey

	mu     sync.Mutex
	signer ssh.Signer
	err    error
}

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lazySigner) load() (ssh.Signer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.signer == nil && l.err == nil {
		l.signer, l.err = decryptKey(l.cfg, l.file, l.pem)
	}
	return l.signer, l.err
}

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

// SignWithAlgorithm lets x/crypto pick rsa-sha2-256/512 for RSA keys.
func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	if as, ok := s.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return s.Sign(rand, data)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func logf(cfg *Config, msg string, args ...any) {
	if cfg.Logger != nil {
		cfg.Logger.Debug(msg, args...)
	}
}

// certSigner returns a signer for FILE-cert.pub when it certifies s's key,
// else nil.
func certSigner(cfg *Config, file string, s ssh.Signer) ssh.Signer {
	b, err := os.ReadFile(file + "-cert.pub")
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		logf(cfg, "certificate not usable, skipped", "file", file+"-cert.pub", "err", err)
		return nil
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok || cert.CertType != ssh.UserCert || !bytes.Equal(cert.Key.Marshal(), s.PublicKey().Marshal()) {
		logf(cfg, "certificate does not match its key, skipped", "file", file+"-cert.pub")
		return nil
	}
	cs, err := ssh.NewCertSigner(cert, s)
	if err != nil {
		return nil
	}
	return cs
}
