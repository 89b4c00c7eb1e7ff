//go:build !linux && !darwin && !windows

package service

// For reports that this platform has no supported service manager.
func For(Spec) (Plan, error) { return Plan{}, ErrUnsupported }
