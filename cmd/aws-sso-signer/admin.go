package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// zoneBlob is where serve records its zone, so the admin commands can
// check the names they are given against it.
const zoneBlob = "zone"

func (c *cli) account(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("account: want add, list, disable, enable or delete")
	}
	fs, dbURL := c.flags("account " + args[0])
	audit := c.auditFlag(fs)
	email := fs.String("email", "", "the account's e-mail address")
	rf := addRevokeFlags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	switch args[0] {
	case "add":
		if len(rest) != 1 || *email == "" {
			return usagef("account add USER --email EMAIL (the password on stdin)")
		}
		user, err := signer.CheckUsername(rest[0])
		if err != nil {
			return err
		}
		if _, err := signer.CheckEmail(*email); err != nil {
			return err
		}
		pw, err := c.readPassword()
		if err != nil {
			return err
		}
		hash, err := signer.HashPassword(pw)
		if err != nil {
			return withHint(err, "give the password on stdin, e.g. from a password manager: pass show signer/USER | aws-sso-signer account add ...")
		}
		db, err := c.openDB(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.AddAccount(ctx, user, *email, hash); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "account %s added\n", user)
		return c.record(audit, "account add", user, slog.String("email", *email))
	case "list":
		if len(rest) != 0 {
			return usagef("account list takes no arguments")
		}
		db, err := c.openDB(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer db.Close()
		accounts, err := db.Accounts(ctx)
		if err != nil {
			return err
		}
		hosts, err := db.Hostnames(ctx, "")
		if err != nil {
			return err
		}
		byUser := map[string][]string{}
		for _, h := range hosts {
			byUser[h.Username] = append(byUser[h.Username], h.Label)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tEMAIL\tSTATUS\tCREATED\tHOSTNAMES")
		for _, a := range accounts {
			status := "active"
			if a.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Username, a.Email, status, a.CreatedAt.Format(time.DateOnly), orDash(strings.Join(byUser[a.Username], ",")))
		}
		return tw.Flush()
	case "disable", "enable", "delete":
		if len(rest) != 1 {
			return usagef("account %s USER", args[0])
		}
		user := strings.ToLower(rest[0])
		db, err := c.openDB(ctx, *dbURL)
		if err != nil {
			return err
		}
		defer db.Close()
		switch args[0] {
		case "delete":
			err = c.deleteAccount(ctx, db, rf, audit, user)
		default:
			err = db.SetAccountDisabled(ctx, user, args[0] == "disable")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "account %s %s\n", user, map[string]string{"delete": "deleted", "disable": "disabled", "enable": "enabled"}[args[0]])
		return c.record(audit, "account "+args[0], user)
	}
	return usagef("account: unknown subcommand %q", args[0])
}

func (c *cli) hostname(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("hostname: want add, release or list")
	}
	fs, dbURL := c.flags("hostname " + args[0])
	audit := c.auditFlag(fs)
	capN := fs.Int("cap", signer.MaxHostnamesPerAccount, "the most hostnames the account may hold")
	rf := addRevokeFlags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	db, err := func() (*store.DB, error) {
		switch {
		case args[0] == "add" && len(rest) != 2:
			return nil, usagef("hostname add USER LABEL")
		case args[0] == "release" && len(rest) != 1:
			return nil, usagef("hostname release LABEL")
		case args[0] == "list" && len(rest) > 1:
			return nil, usagef("hostname list [USER]")
		case args[0] != "add" && args[0] != "release" && args[0] != "list":
			return nil, usagef("hostname: unknown subcommand %q", args[0])
		}
		return c.openDB(ctx, *dbURL)
	}()
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "add":
		label, err := signer.CheckLabel(rest[1])
		if err != nil {
			return err
		}
		h, err := db.AddHostname(ctx, strings.ToLower(rest[0]), label, *capN)
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("hostname %s is taken", label), "choose another label")
		}
		if errors.Is(err, store.ErrQuarantined) {
			return withHint(err, "certificates its previous owner got may still be valid; choose another label")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "hostname %s registered to %s\n", c.fqdn(ctx, db, h.Label), h.Username)
		return c.record(audit, "hostname add", h.Label, slog.String("account", h.Username))
	case "release":
		label := strings.ToLower(strings.SplitN(rest[0], ".", 2)[0])
		if _, err := db.Hostname(ctx, label); err != nil {
			return err
		}
		certs, err := db.Certificates(ctx, []string{label}, maxLive)
		if err != nil {
			return err
		}
		if err := c.revokeLive(ctx, db, rf, audit, "hostname "+label, certs); err != nil {
			return err
		}
		if err := db.ReleaseHostname(ctx, label); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "hostname %s released\n", label)
		return c.record(audit, "hostname release", label)
	default:
		user := ""
		if len(rest) == 1 {
			user = strings.ToLower(rest[0])
		}
		hosts, err := db.Hostnames(ctx, user)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOSTNAME\tUSER\tREGISTERED")
		for _, h := range hosts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.fqdn(ctx, db, h.Label), h.Username, h.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
}

// deleteAccount revokes the valid certificates issued to user (also
// those of hostnames it released with --keep-certificates), then deletes
// the account, which quarantines its hostnames.
func (c *cli) deleteAccount(ctx context.Context, db *store.DB, rf revokeFlags, audit adminAudit, user string) error {
	a, err := db.Account(ctx, user)
	if err != nil {
		return err
	}
	certs, err := db.AccountCertificates(ctx, a.ID, maxLive)
	if err != nil {
		return err
	}
	if err := c.revokeLive(ctx, db, rf, audit, "account "+user, certs); err != nil {
		return err
	}
	return db.DeleteAccount(ctx, user)
}

// fqdn is LABEL.ZONE once serve has recorded the zone, else LABEL.
func (c *cli) fqdn(ctx context.Context, db *store.DB, label string) string {
	if zone, err := db.Blob(ctx, zoneBlob); err == nil {
		return label + "." + string(zone)
	}
	return label
}

// labelOf turns a --hostname (LABEL.ZONE, or LABEL) into its label,
// checking the zone once serve has recorded it.
func labelOf(ctx context.Context, db *store.DB, name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	label, zone, _ := strings.Cut(n, ".")
	if want, err := db.Blob(ctx, zoneBlob); err == nil && zone != "" && zone != string(want) {
		return "", fmt.Errorf("%s is not under the service's zone %s", name, want)
	}
	return signer.CheckLabel(label)
}

func (c *cli) key(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("key: want create, list or revoke")
	}
	fs, dbURL := c.flags("key " + args[0])
	audit := c.auditFlag(fs)
	hostnames := fs.StringArray("hostname", nil, "a hostname the key may sign for (repeatable)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	switch {
	case args[0] == "create" && (len(rest) != 1 || len(*hostnames) == 0):
		return usagef("key create USER --hostname FQDN [--hostname FQDN...]")
	case args[0] == "list" && len(rest) > 1:
		return usagef("key list [USER]")
	case args[0] == "revoke" && len(rest) != 1:
		return usagef("key revoke ID")
	case args[0] != "create" && args[0] != "list" && args[0] != "revoke":
		return usagef("key: unknown subcommand %q", args[0])
	}
	db, err := c.openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "create":
		var labels []string
		for _, h := range *hostnames {
			l, err := labelOf(ctx, db, h)
			if err != nil {
				return err
			}
			labels = append(labels, l)
		}
		key, hash, err := signer.NewAPIKey()
		if err != nil {
			return err
		}
		k, err := db.CreateKey(ctx, strings.ToLower(rest[0]), labels, hash)
		if err != nil {
			return err
		}
		// The key goes to stdout alone, so it can be piped into
		// 'aws-sso-agent certs api-key'; the rest to stderr.
		fmt.Fprintln(c.stdout, key)
		fmt.Fprintf(c.stderr, "key %d for %s, scoped to %s; it is shown only this once\n", k.ID, k.Username, strings.Join(k.Labels, ", "))
		return c.record(audit, "key create", strconv.FormatInt(k.ID, 10), slog.String("account", k.Username), slog.String("hostnames", strings.Join(k.Labels, ",")))
	case "list":
		user := ""
		if len(rest) == 1 {
			user = strings.ToLower(rest[0])
		}
		keys, err := db.Keys(ctx, user)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tHOSTNAMES\tCREATED\tLAST USED\tSTATUS")
		for _, k := range keys {
			used := "never"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.Format(time.RFC3339) + " from " + k.LastUsedIP
			}
			status := "active"
			if k.RevokedAt != nil {
				status = "revoked " + k.RevokedAt.Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Username, orDash(strings.Join(k.Labels, ",")), k.CreatedAt.Format(time.DateOnly), used, status)
		}
		return tw.Flush()
	default:
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return usagef("key revoke: %q is not a key ID (see 'key list')", rest[0])
		}
		if err := db.RevokeKey(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "key %d revoked\n", id)
		return c.record(audit, "key revoke", rest[0])
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
