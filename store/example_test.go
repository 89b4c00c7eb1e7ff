package store_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aws-sso-agent/aws-sso-agent/store"
)

func ExampleOpenFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The CLI reads the passphrase from a terminal or PassphraseFromFile.
	// Real callers leave out WithScryptWorkFactor and get age's default
	// (2^18, about a second per write); this example lowers it to run fast.
	s, err := store.OpenFile(filepath.Join(dir, "aws-sso-agent", "secrets.age"), []byte("correct horse battery staple"),
		store.WithScryptWorkFactor(10))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Set("ca/intermediate.key", []byte("-----BEGIN EC PRIVATE KEY-----...")); err != nil {
		log.Fatal(err)
	}
	key, err := s.Get("ca/intermediate.key")
	fmt.Printf("%.30s %v\n", key, err)

	_, err = s.Get("absent")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// -----BEGIN EC PRIVATE KEY----- <nil>
	// true
}

func ExampleNewKeyring() {
	s := store.NewKeyring("aws-sso-agent")
	_, err := s.Get("ca/intermediate.key")
	var unavailable *store.UnavailableError
	switch {
	case errors.As(err, &unavailable):
		// No Secret Service, no bus, or a locked keyring: the CLI prints
		// the reason and suggests a fix or --store file.
		fmt.Println("error:", unavailable.Reason)
		fmt.Println("hint:", unavailable.Hint())
	case errors.Is(err, store.ErrNotFound):
		// First run: create the key and Set it.
	case err != nil:
		fmt.Println("error:", err)
	}
}

func ExampleMemory() {
	var s store.Memory // for tests of packages that take a store.Store
	s.Set("token", []byte{1, 2, 3})
	v, _ := s.Get("token")
	fmt.Println(v)
	// Output: [1 2 3]
}
