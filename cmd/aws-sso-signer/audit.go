package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"

	"github.com/spf13/pflag"
)

// adminAudit is where an admin command records what it changed: the
// file of --audit-log, else of $AWS_SSO_SIGNER_AUDIT_LOG, else nowhere.
// The lines have the API's shape (action, outcome, who, from where), so
// one log holds both.
type adminAudit struct {
	path *string
}

func (c *cli) auditFlag(fs *pflag.FlagSet) adminAudit {
	return adminAudit{path: fs.String("audit-log", "", "append an audit line for the change to this file (0600; else $AWS_SSO_SIGNER_AUDIT_LOG)")}
}

// record writes one line for action on subject. A change that is made
// but cannot be recorded is reported, not undone.
func (c *cli) record(a adminAudit, action, subject string, attrs ...slog.Attr) error {
	path := *a.path
	if path == "" {
		path = c.getenv("AWS_SSO_SIGNER_AUDIT_LOG")
	}
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w (the change was made)", err)
	}
	defer f.Close()
	actor := "unknown"
	if u, err := user.Current(); err == nil {
		actor = u.Username
	}
	if sudo := c.getenv("SUDO_USER"); sudo != "" {
		actor = sudo + " (sudo " + actor + ")"
	}
	base := []slog.Attr{slog.String("action", action), slog.String("outcome", "done"), slog.String("subject", subject),
		slog.String("actor", actor), slog.String("origin", "cli")}
	slog.New(slog.NewJSONHandler(f, nil)).LogAttrs(context.Background(), slog.LevelInfo, "audit", append(base, attrs...)...)
	return nil
}
