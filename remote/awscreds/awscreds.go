// Package awscreds is an aws.CredentialsProvider for Go programs on a host
// reached with `aws-sso-agent ssh`: it does in process what
// `aws-sso-remote credential-process` does. Each Retrieve finds the SSH
// session's file, proves the forwarded port is that session's genuine agent
// (pinned TLS 1.3 and a proof bound to the connection, see package remote),
// and only then sends the session's token, on the proven connection.
//
// It is a package of its own so that the aws-sso-remote binary, which
// must not link the AWS SDK, does not import it.
package awscreds

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// Source is the aws.Credentials Source of credentials from this provider.
const Source = "aws-sso-remote"

// defaultTimeout bounds one Retrieve when ctx has no deadline, as the
// helper's commands do.
const defaultTimeout = 10 * time.Second

// Options configure the provider.
type Options struct {
	// Slot is the agent slot to read; "" is the default slot.
	Slot string
	// SessionID names the session; "" finds it as aws-sso-remote does
	// ($AWS_SSO_AGENT_SESSION, then the process ancestry, then the only
	// live session).
	SessionID string
	// Finder finds sessions; nil uses $HOME/.aws-sso-agent and the real
	// process ancestry.
	Finder *remote.Finder
}

type provider struct {
	opts Options
}

// New returns a provider of the agent's credentials through this host's
// SSH session. Wrap it in aws.NewCredentialsCache (config.LoadDefaultConfig
// with config.WithCredentialsProvider does) so it is asked only when the
// credentials near expiry.
//
// Retrieve's errors wrap a *remote.Error: remote.KindOf tells a missing
// session from a squatter or a refused token, and remote.HintOf says what
// to do. They never hold the token or credentials.
func New(opts Options) aws.CredentialsProvider {
	if opts.Finder == nil {
		opts.Finder = &remote.Finder{}
	}
	return &provider{opts: opts}
}

// Retrieve finds the session, proves its port and reads the slot's
// credentials.
func (p *provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	s, err := p.opts.Finder.Find(p.opts.SessionID)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("awscreds: %w", err)
	}
	c, err := remote.Fetch(ctx, s, p.opts.Slot)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("awscreds: %w", err)
	}
	return aws.Credentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Source:          Source,
		CanExpire:       !c.Expires.IsZero(),
		Expires:         c.Expires,
		AccountID:       c.AccountID,
	}, nil
}
