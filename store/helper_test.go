package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Some tests re-run the test binary as a helper process: to talk to a
// D-Bus session bus of their own (godbus keeps one session bus connection
// per process) or to be a second writer of a File store.
const helperEnv = "STORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	switch mode {
	case "keyring-get":
		// Prints the error of one Get for the parent to check.
		_, err := NewKeyring(os.Getenv("STORE_TEST_SERVICE")).Get("probe")
		fmt.Printf("unavailable=%v err=%v\n", errors.Is(err, ErrUnavailable), err)
		return 0
	case "file-writer":
		// Sets STORE_TEST_N keys named STORE_TEST_PREFIX + i.
		f, err := OpenFile(os.Getenv("STORE_TEST_FILE"), []byte("test passphrase"), WithScryptWorkFactor(testWorkFactor))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n, _ := strconv.Atoi(os.Getenv("STORE_TEST_N"))
		prefix := os.Getenv("STORE_TEST_PREFIX")
		for i := range n {
			k := prefix + strconv.Itoa(i)
			if err := f.Set(k, []byte(k)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
	return 2
}
