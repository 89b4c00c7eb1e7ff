package service

// For is the Plan of this platform: a systemd user unit.
func For(s Spec) (Plan, error) { return systemdPlan(s), nil }
