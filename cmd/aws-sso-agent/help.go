package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/docs"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// help prints the usage, a command's usage (help COMMAND, as COMMAND
// --help) or a document (help TOPIC): the documentation is in the binary,
// so a hint can point to it on a machine that has nothing else.
func (c *cli) help(args []string) error {
	switch {
	case len(args) == 0 || len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(c.stdout, usage)
		c.printTopics()
		return nil
	case len(args) > 1:
		return usageError{fmt.Errorf("help takes one topic or command, not %d", len(args))}
	case args[0] == "topics":
		c.printTopics()
		return nil
	}
	if cmd, ok := commands()[args[0]]; ok && !strings.HasPrefix(args[0], "-") && args[0] != "help" {
		// Asked for, the usage is the output: stdout, for a pager.
		out := *c
		out.stderr = c.stdout
		return cmd(&out, []string{"--help"})
	}
	text, ok := docs.Lookup(args[0])
	if !ok {
		return usageError{fmt.Errorf("help: no topic or command %q (topics: %s)", args[0], strings.Join(topicNames(), ", "))}
	}
	_, err := fmt.Fprint(c.stdout, text)
	return err
}

func (c *cli) printTopics() {
	fmt.Fprintln(c.stdout, "\nHelp topics (aws-sso-agent help TOPIC):")
	for _, t := range docs.Topics() {
		title := t.Title
		if len(t.Aliases) > 0 {
			title += " (also: " + strings.Join(t.Aliases, ", ") + ")"
		}
		fmt.Fprintf(c.stdout, "  %-18s %s\n", t.Name, title)
	}
}

func topicNames() []string {
	var names []string
	for _, t := range docs.Topics() {
		names = append(names, t.Name)
	}
	return names
}

// topicHint is the "more:" line fail adds for an error whose kind a help
// topic explains, "" for others.
func topicHint(err error) string {
	var (
		unavailable *store.UnavailableError
		changed     *forward.HostKeyChangedError
		unknown     *forward.UnknownHostError
		auth        *forward.AuthError
		dnsErr      *public.DNSError
		unreachable *acme.UnreachableError
	)
	topic := ""
	switch {
	case errors.As(err, &unavailable):
		topic = "settings"
	case errors.As(err, &changed), errors.As(err, &unknown), errors.As(err, &auth):
		topic = "ssh"
	case errors.As(err, &dnsErr), errors.As(err, &unreachable):
		topic = "tls"
	case errors.Is(err, agent.ErrSourceFailed), errors.Is(err, agent.ErrNoSlot):
		topic = "troubleshooting"
	}
	if topic == "" {
		return ""
	}
	return "more: aws-sso-agent help " + topic
}
