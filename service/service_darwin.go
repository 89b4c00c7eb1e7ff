package service

import "os"

// For is the Plan of this platform: a launchd agent in the user's GUI
// domain.
func For(s Spec) (Plan, error) { return launchdPlan(s, os.Getuid()), nil }
