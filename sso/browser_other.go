//go:build !linux && !darwin && !windows

package sso

import "fmt"

// platformOpener is xdg-open on the other Unix systems, with a display.
func platformOpener(getenv func(string) string) (string, []string, error) {
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return "", nil, fmt.Errorf("%w: no DISPLAY or WAYLAND_DISPLAY", ErrNoBrowser)
	}
	return "xdg-open", nil, nil
}
