package sso

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrNoBrowser means no browser could be opened on this machine (an SSH
// session without a display, a container): the login falls back to the
// device code grant.
var ErrNoBrowser = errors.New("no browser can be opened here")

// Browser opens a URL for the person.
type Browser interface {
	Open(url string) error
}

// SystemBrowser opens URLs as Python's webbrowser module and the AWS CLI
// do: the commands of $BROWSER first (a list separated like PATH, "%s"
// standing for the URL, else the URL appended), then the platform's
// opener (xdg-open, open, or the Windows URL handler). Commands run
// without a shell.
type SystemBrowser struct {
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Open starts a browser with url. It returns an error wrapping
// ErrNoBrowser when nothing could be started.
func (b SystemBrowser) Open(url string) error {
	getenv := b.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv("BROWSER"); v != "" {
		for _, cmd := range strings.Split(v, string(os.PathListSeparator)) {
			args := strings.Fields(cmd)
			if len(args) == 0 {
				continue
			}
			if strings.Contains(cmd, "%s") {
				for i := range args {
					args[i] = strings.ReplaceAll(args[i], "%s", url)
				}
			} else {
				args = append(args, url)
			}
			c := exec.Command(args[0], args[1:]...)
			if err := c.Start(); err != nil {
				continue
			}
			// $BROWSER may be the browser itself, running until it is
			// closed: reap it whenever it ends.
			go c.Wait()
			return nil
		}
	}
	name, args, err := platformOpener(getenv)
	if err != nil {
		return err
	}
	if err := exec.Command(name, append(args, url)...).Run(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoBrowser, name, err)
	}
	return nil
}
