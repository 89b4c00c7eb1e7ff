package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// slotFromProfile is what `--slot` alone means: name the slot after the
// profile. Parentheses cannot appear in a slot name, so it cannot collide.
const slotFromProfile = "(profile)"

func (c *cli) load(args []string) error {
	fs := c.flags("load")
	var req agent.LoadRequest
	fs.StringVar(&req.Profile, "profile", "", "profile of the AWS config to load")
	fs.StringVar(&req.SSOSession, "sso-session", "", "IAM Identity Center session (sso-session section of the AWS config)")
	fs.StringVar(&req.AccountID, "account", "", "account ID within the SSO session")
	fs.StringVar(&req.RoleName, "role", "", "role name within the SSO session")
	fs.StringVar(&req.Slot, "slot", "", "load into a named slot instead of the default one (--slot alone: named after the profile)")
	fs.Lookup("slot").NoOptDefVal = slotFromProfile
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		err := usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
		if fs.Changed("slot") {
			return withHint(err, "to name the slot, write --slot="+fs.Arg(0))
		}
		return err
	}
	if req.Profile == "" && req.SSOSession == "" && req.AccountID == "" && req.RoleName == "" {
		spec, err := c.pickSource()
		if err != nil {
			return err
		}
		req.Profile, req.SSOSession, req.AccountID, req.RoleName = spec.Profile, spec.SSOSession, spec.AccountID, spec.RoleName
	}
	if req.Slot == slotFromProfile {
		if req.Profile != "" {
			req.Slot = req.Profile
		} else {
			req.Slot = req.RoleName + "@" + req.AccountID
		}
	}
	// The agent reads the same AWS config files this shell would, from
	// its own directory and again when it restarts: absolute paths.
	for _, f := range []struct {
		env string
		to  *string
	}{{"AWS_CONFIG_FILE", &req.ConfigFile}, {"AWS_SHARED_CREDENTIALS_FILE", &req.CredentialsFile}} {
		v := os.Getenv(f.env)
		if v == "" {
			continue
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("%s: %w", f.env, err)
		}
		*f.to = abs
	}
	if err := (&agent.ControlRequest{Op: agent.OpLoad, Load: &req}).Validate(); err != nil {
		return usageError{err}
	}
	resp, err := c.control(agent.ControlRequest{Op: agent.OpLoad, Load: &req})
	if err != nil {
		return err
	}
	s := resp.Slot
	fmt.Fprintf(c.stdout, "loaded %s into slot %s", s.Source, slotName(s.Name))
	if !s.Expires.IsZero() {
		fmt.Fprintf(c.stdout, " (expires %s, refreshed automatically)", s.Expires.Local().Format(time.RFC3339))
	}
	fmt.Fprintln(c.stdout)
	return nil
}

func (c *cli) unload(args []string) error {
	fs := c.flags("unload")
	var req agent.UnloadRequest
	fs.StringVar(&req.Profile, "profile", "", "unload every slot loaded from this profile")
	fs.StringVar(&req.Slot, "slot", "", "unload this named slot")
	fs.BoolVar(&req.All, "all", false, "unload every slot")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	given := 0
	for _, f := range []string{"profile", "slot", "all"} {
		if fs.Changed(f) {
			given++
		}
	}
	if given > 1 {
		return usageError{errors.New("give one of --profile, --slot or --all")}
	}
	if req.Slot != "" {
		if err := wire.ValidateSlotName(req.Slot); err != nil {
			return usageError{err}
		}
	}
	resp, err := c.control(agent.ControlRequest{Op: agent.OpUnload, Unload: &req})
	if err != nil {
		return err
	}
	names := slotNames(resp.Unloaded)
	switch {
	case req.All:
		fmt.Fprintf(c.stdout, "unloaded every slot: %s\n", strings.Join(names, ", "))
	case req.Profile != "":
		fmt.Fprintf(c.stdout, "unloaded profile %s from slot %s\n", req.Profile, strings.Join(names, ", "))
	default:
		fmt.Fprintf(c.stdout, "unloaded slot %s\n", slotName(req.Slot))
	}
	return nil
}

// statusCommand parses the flags of list and status (only --json) and
// asks the running agent for its status.
func (c *cli) statusCommand(name string, args []string) (st *agent.AgentStatus, asJSON bool, err error) {
	fs := c.flags(name)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return nil, false, err
	}
	if err := noArgs(fs); err != nil {
		return nil, false, err
	}
	st, err = c.agentStatus()
	return st, asJSON, err
}

func (c *cli) list(args []string) error {
	st, asJSON, err := c.statusCommand("list", args)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, jsonStatus(st).Slots)
	}
	if len(st.Slots) == 0 {
		fmt.Fprintln(c.stdout, "no slots loaded; load one with: aws-sso-agent load --profile PROFILE")
		return nil
	}
	c.slotTable(st)
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func joinComma(s []string) string { return strings.Join(s, ",") }

func (c *cli) slotTable(st *agent.AgentStatus) {
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "SLOT\tSOURCE\tEXPIRES\tSTATE\tURL")
	for _, s := range st.Slots {
		state := "ok"
		switch {
		case !s.Servable && s.LastError == "" && s.LastRefresh.IsZero():
			state = "loading"
		case !s.Servable:
			state = "unavailable"
			if s.LastError != "" {
				state += ": " + s.LastError
			}
		case s.LastError != "":
			state = "ok (last refresh failed: " + s.LastError + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", slotName(s.Name), s.Source, expiry(s.Expires), state, slotURL(st.URL, s.Name))
	}
	tw.Flush()
}

func (c *cli) profile(args []string) error {
	fs := c.flags("profile")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	st, err := c.agentStatus()
	if err != nil {
		return err
	}
	for _, s := range st.Slots {
		if s.Name == "" {
			name := s.Profile
			if name == "" {
				name = s.Source
			}
			fmt.Fprintln(c.stdout, name)
			return nil
		}
	}
	return withHint(errors.New("nothing is loaded in the default slot"), "load a profile with: aws-sso-agent load --profile PROFILE")
}

func (c *cli) status(args []string) error {
	st, asJSON, err := c.statusCommand("status", args)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, jsonStatus(st))
	}
	c.writeStatus(st)
	return nil
}

// writeStatus shows st as `status` does without --json.
func (c *cli) writeStatus(st *agent.AgentStatus) {
	fmt.Fprintf(c.stdout, "agent:       running (pid %d, %s, up %s)\n", st.PID, st.Version, time.Since(st.Started).Round(time.Second))
	fmt.Fprintf(c.stdout, "endpoint:    %s (plain HTTP, loopback only)\n", st.URL)
	fmt.Fprintf(c.stdout, "             %s (TLS)\n", st.TLSURL)
	if st.EndpointDegraded != "" {
		fmt.Fprintf(c.stdout, "             degraded since %s: %s\n", st.EndpointDegradedSince.Local().Format(time.RFC3339), st.EndpointDegraded)
	}
	if st.ControlDegraded != "" {
		fmt.Fprintf(c.stdout, "control:     degraded since %s: %s\n", st.ControlDegradedSince.Local().Format(time.RFC3339), st.ControlDegraded)
	}
	fmt.Fprintf(c.stdout, "token file:  %s\n", st.TokenFile)
	fmt.Fprintf(c.stdout, "local CA:    %s\n", st.CAFingerprint)
	fmt.Fprintf(c.stdout, "leaf:        expires %s (rotated automatically)\n", expiry(st.LeafExpires))
	if st.PublicFQDN != "" {
		if st.PublicURL != "" {
			fmt.Fprintf(c.stdout, "public name: %s (TLS every SDK verifies); certificate expires %s\n", st.PublicURL, expiry(st.PublicCertExpires))
		} else {
			fmt.Fprintf(c.stdout, "public name: %s not served: %s\n", st.PublicFQDN, st.PublicNotServed)
		}
		if st.PublicRenewError != "" {
			fmt.Fprintf(c.stdout, "             last renewal failed: %s\n", st.PublicRenewError)
		}
	}
	fmt.Fprintf(c.stdout, "store:       %s\n", st.Store)
	c.writeSSOStatus(st)
	if st.RefreshMargin != "" {
		fmt.Fprintf(c.stdout, "refresh:     margin %s, source timeout %s\n", st.RefreshMargin, st.SourceTimeout)
	}
	if st.SlotsFileError != "" {
		fmt.Fprintf(c.stdout, "slots file:  not restored: %s\n", st.SlotsFileError)
	}
	if len(st.Slots) == 0 {
		fmt.Fprintln(c.stdout, "slots:       none; load one with: aws-sso-agent load --profile PROFILE")
		return
	}
	fmt.Fprintln(c.stdout)
	c.slotTable(st)
}

func slotName(name string) string { return wire.SlotName(name) }

// slotNames are names as a person and a script read them: "default" for
// the default slot (a named slot cannot be called that), and [] for none,
// never null.
func slotNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = slotName(n)
	}
	return out
}

// jsonStatus is st as --json prints it: slots by their real names and
// never a null list (an older agent answers null for none).
func jsonStatus(st *agent.AgentStatus) *agent.AgentStatus {
	out := *st
	out.Slots = make([]agent.SlotInfo, len(st.Slots))
	for i, s := range st.Slots {
		s.Name = slotName(s.Name)
		out.Slots[i] = s
	}
	return &out
}

// jsonSessions is list as sessions --json prints it: slots by their real
// names, never null.
func jsonSessions(list []agent.SessionInfo) []agent.SessionInfo {
	out := make([]agent.SessionInfo, len(list))
	for i, s := range list {
		s.Slots = slotNames(s.Slots)
		out[i] = s
	}
	return out
}

// slotURL is the endpoint URL of a slot: the base for the default slot,
// base/slot/NAME (escaped) for a named one.
func slotURL(base, name string) string {
	if name == "" {
		return base
	}
	return strings.TrimSuffix(base, "/") + "/slot/" + pathEscape(name)
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	left := time.Until(t).Round(time.Second)
	if left < 0 {
		return t.Local().Format(time.RFC3339) + " (expired)"
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format(time.RFC3339), left)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
