package sso

import (
	"fmt"
	"os/exec"
)

// platformOpener is xdg-open, when there is a display for it to open a
// browser on: without DISPLAY or WAYLAND_DISPLAY (an SSH session, a
// container) it would fall back to a text browser in our terminal.
func platformOpener(getenv func(string) string) (string, []string, error) {
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return "", nil, fmt.Errorf("%w: no DISPLAY or WAYLAND_DISPLAY", ErrNoBrowser)
	}
	if _, err := exec.LookPath("xdg-open"); err != nil {
		return "", nil, fmt.Errorf("%w: no xdg-open", ErrNoBrowser)
	}
	return "xdg-open", nil, nil
}
