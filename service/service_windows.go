package service

import (
	"os"
	"path/filepath"
)

// For is the Plan of this platform: a task that starts at logon.
func For(s Spec) (Plan, error) {
	local := os.Getenv("LOCALAPPDATA")
	if local == "" {
		local = filepath.Join(s.Home, "AppData", "Local")
	}
	if s.LogFile == "" {
		s.LogFile = TaskLog(local)
	}
	return taskPlan(s, local), nil
}
