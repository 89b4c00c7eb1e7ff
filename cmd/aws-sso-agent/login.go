package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// login logs in to an IAM Identity Center session and writes the token
// cache every SDK reads (docs/sso.md).
func (c *cli) login(args []string) error {
	fs := c.flags("login")
	device := fs.Bool("device-code", false, "use a device code, approved in a browser anywhere (for machines without one)")
	noBrowser := fs.Bool("no-browser", false, "print the URL instead of opening a browser")
	client, err := c.ssoCommand(fs, "log in to", args)
	if err != nil {
		return err
	}
	opts := sso.LoginOptions{DeviceCode: *device, Prompt: cliPrompt{c.stderr}}
	if !*noBrowser {
		opts.Browser = sso.SystemBrowser{}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	t, err := client.Login(ctx, opts)
	if err != nil {
		return ssoError(err)
	}
	fmt.Fprintf(c.stdout, "logged in to %s; the token expires %s", client.Session(), expiry(t.ExpiresAt))
	if t.RefreshToken != "" {
		fmt.Fprint(c.stdout, " and a running agent refreshes it")
	}
	fmt.Fprintln(c.stdout)
	return nil
}

// logout ends a session at the portal and removes its cached token.
func (c *cli) logout(args []string) error {
	client, err := c.ssoCommand(c.flags("logout"), "log out of", args)
	if err != nil {
		return err
	}
	if err := client.Logout(context.Background()); err != nil {
		return ssoError(err)
	}
	fmt.Fprintf(c.stdout, "logged out of %s\n", client.Session())
	return nil
}

// ssoCommand adds the flags that name a session to fs, parses args and
// returns the client of the session they name.
func (c *cli) ssoCommand(fs *pflag.FlagSet, verb string, args []string) (*sso.Client, error) {
	session := fs.String("sso-session", "", "the [sso-session NAME] of the AWS config to "+verb)
	profile := fs.String("profile", "", verb+" the session of this profile (default: AWS_PROFILE, else default)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := noArgs(fs); err != nil {
		return nil, err
	}
	return c.ssoClient(*session, *profile)
}

// ssoClient finds the session the flags name in the user's config.
func (c *cli) ssoClient(session, profile string) (*sso.Client, error) {
	if session != "" && profile != "" {
		return nil, usageError{errors.New("name either --sso-session or --profile, not both")}
	}
	if session == "" && profile == "" {
		profile = os.Getenv("AWS_PROFILE")
		if profile == "" {
			profile = "default"
		}
	}
	s, err := sso.LoadSession("", session, profile)
	if err != nil {
		return nil, withHint(err, "configure one with: aws configure sso-session (docs/sso.md shows the section)")
	}
	client, err := sso.NewClient(context.Background(), sso.ClientConfig{Session: s})
	if err != nil {
		return nil, err
	}
	return client, nil
}

// ssoError adds the hint a person needs to an sso error without one.
func ssoError(err error) error {
	switch {
	case errors.Is(err, sso.ErrWrongState):
		return withHint(err, "close old login tabs and run the login again")
	case agent.ErrorHint(err) != "":
		return err
	}
	return withHint(err, "run the login again; with --device-code it works from any browser")
}

// cliPrompt tells the person at the terminal what to do.
type cliPrompt struct{ w io.Writer }

func (p cliPrompt) Browse(url string, opened bool) {
	if opened {
		fmt.Fprintf(p.w, "A browser opened to approve the login. If it did not, open this URL on this machine:\n\n  %s\n\n", url)
		return
	}
	fmt.Fprintf(p.w, "Open this URL in a browser on this machine to approve the login:\n\n  %s\n\n", url)
}

func (p cliPrompt) Device(uri, code string, opened bool) {
	fmt.Fprintf(p.w, "Open this URL in a browser on any device:\n\n  %s\n\nand enter this code:\n\n  %s\n\n", uri, code)
}

// logPrompt tells the person through the agent's log, for the logins the
// agent starts by itself (serve --auto-login).
type logPrompt struct{ log *slog.Logger }

func (p logPrompt) Browse(url string, opened bool) {
	p.log.Warn("sso login: approve it in the browser", "url", url, "browser_opened", opened)
}

func (p logPrompt) Device(uri, code string, opened bool) {
	p.log.Warn("sso login: open the url and enter the code", "url", uri, "code", code)
}

// ssoKeeper is the keeper of the agent's SSO sessions; with autoLogin it
// logs in by itself when a session needs it, on this workstation's
// browser (or with a device code when it has none).
func ssoKeeper(log *slog.Logger, autoLogin bool) *sso.Keeper {
	cfg := sso.KeeperConfig{Logger: log}
	if autoLogin {
		cfg.AutoLogin = func(ctx context.Context, client *sso.Client) error {
			_, err := client.Login(ctx, sso.LoginOptions{Browser: sso.SystemBrowser{}, Prompt: logPrompt{log}})
			return err
		}
	}
	return sso.NewKeeper(cfg)
}

// writeSSOStatus shows the agent's SSO sessions in `status`.
func (c *cli) writeSSOStatus(st *agent.AgentStatus) {
	for i, s := range st.SSOSessions {
		label := "sso:"
		if i > 0 {
			label = ""
		}
		state := "token expires " + expiry(s.Expires) + ", refreshed ahead"
		switch {
		case s.LoginNeeded != "" && s.LoginRunning:
			state = "login needed (" + s.LoginNeeded + "); a login waits in the browser"
		case s.LoginNeeded != "":
			state = "login needed (" + s.LoginNeeded + "): run aws-sso-agent login"
		case s.LastError != "":
			state += "; last refresh failed: " + s.LastError
		}
		fmt.Fprintf(c.stdout, "%-12s %s: %s\n", label, s.Session, state)
	}
}
