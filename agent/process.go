package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
)

// The limits of one credential_process run (docs/threat-model.md).
const (
	// DefaultSourceTimeout bounds one retrieval from a source: a
	// credential_process run, or the IAM Identity Center and STS calls of
	// a refresh. A request that waits for a refresh must be answered
	// within the endpoint's write timeout (30 s, endpointWriteTimeout),
	// and 20 s plus processWaitDelay still leaves time to write a JSON
	// 503. It also covers the SDK's standard retryer (three attempts,
	// backing off about 1 s and 2 s) against an STS or SSO that answers
	// in a few seconds. processcreds gives a process a minute
	// (processcreds.DefaultTimeout), but SDK clients of the endpoint give
	// up much sooner (botocore's container fetcher after 2 s, retrying
	// three times), so a longer wait only helps `load` and background
	// refreshes: `serve --source-timeout` raises it for a process that
	// opens a browser, say.
	DefaultSourceTimeout = 20 * time.Second

	// MaxSourceTimeout is the longest source timeout an agent accepts.
	// A client of the control socket waits this long (plus margins, see
	// LoadTimeout) for any load, so the cap also bounds how long `load`
	// can hang on an agent that stopped answering.
	MaxSourceTimeout = 5 * time.Minute

	// processWaitDelay is how long the agent waits, once the process has
	// exited or been killed, for its stdout and stderr to close. A child
	// that left the process group (setsid, a daemon) may hold them open
	// for good; after this delay they are closed under it (exec.Cmd's
	// WaitDelay), so it cannot hold up the agent.
	processWaitDelay = 2 * time.Second

	// ProcessOutputLimit caps what a credential_process may print on
	// stdout. A credentials document is a few hundred bytes, a few KiB
	// with a long session token: 1 MiB is plenty, and keeps a runaway
	// process from growing the agent's memory.
	ProcessOutputLimit = 1 << 20

	// processStderrExcerpt is how much of stderr the agent keeps, to show
	// the person who loads the source (never the log, see ProcessError).
	processStderrExcerpt = 512

	// sourceLoadMargin is the time a load takes beyond its retrieval:
	// reading the AWS config and writing the answer on the control
	// socket.
	sourceLoadMargin = 10 * time.Second
)

// LoadTimeout is the longest a load takes on an agent whose sources have
// the given timeout: the retrieval, the grace for the process's pipes to
// close, and a margin for reading the config and writing the answer. The
// control socket's deadline for a load must be at least this, so that the
// caller reads the source's own error (say, "credential_process timed out
// after 20 s") rather than a closed connection.
func LoadTimeout(sourceTimeout time.Duration) time.Duration {
	return sourceTimeout + processWaitDelay + sourceLoadMargin
}

// ProcessError is a credential_process that gave no credentials. Its
// message says what went wrong and how much the process wrote on stderr,
// never what: stderr is for diagnosis by the person who runs `load`
// (Stderr, passed on in the load's hint), not for the log or for the
// endpoint's clients, since tools print debug lines with tokens in them.
type ProcessError struct {
	// Reason is what happened, e.g. "timed out after 20 s" or "exited
	// with status 2".
	Reason string
	// TimedOut says the agent killed the process at its timeout.
	TimedOut bool
	// StderrBytes is how many bytes the process wrote on stderr.
	StderrBytes int
	// Stderr is the start of stderr, at most 512 bytes of it, quoted
	// with control characters escaped; "" when stderr was empty.
	Stderr string

	err error // the context's error when the run was stopped or timed out
}

func (e *ProcessError) Error() string {
	msg := "credential_process " + e.Reason
	if e.StderrBytes > 0 {
		msg += fmt.Sprintf(" (it wrote %d bytes on stderr)", e.StderrBytes)
	}
	return msg
}

func (e *ProcessError) Unwrap() error { return e.err }

// processProvider runs a credential_process: the command of a profile's
// credential_process line, through the shell as the SDKs run it, and
// reads the credentials it prints (the format of
// processcreds.CredentialProcessResponse, with the SDK's checks).
//
// It differs from processcreds.Provider where a broken or hostile
// process could hurt the agent: stdin is the null device (the agent has
// no terminal to lend, and the SDK would pass its own stdin), stderr is
// kept out of the log, stdout is capped at ProcessOutputLimit, and the
// process runs in a process group of its own that is killed as a whole
// at the timeout or when the caller gives up. Like processcreds and
// botocore, it uses the output only once the process has exited: a
// process that prints its JSON and then hangs is a timeout.
type processProvider struct {
	command string
	timeout time.Duration
}

// Retrieve runs the process once.
func (p *processProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	timeout := p.timeout
	if timeout <= 0 {
		timeout = DefaultSourceTimeout
	}
	out, err := processRun(ctx, p.command, timeout)
	if err != nil {
		return aws.Credentials{}, err
	}
	return processParse(out)
}

// processRun runs command and returns its stdout once it has exited
// successfully.
func processRun(ctx context.Context, command string, timeout time.Duration) ([]byte, error) {
	parent := ctx
	// The caller's deadline, if sooner, is this run's timeout too, so the
	// error names the time the process really had.
	if dl, ok := parent.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	cmd := processCommand(ctx, command)
	stdout := &processStdout{limit: ProcessOutputLimit, over: cancel}
	stderr := &processStderr{}
	cmd.Stdin = nil // the null device
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = processWaitDelay

	err := cmd.Run()
	pe := &ProcessError{StderrBytes: stderr.n, Stderr: stderr.excerpt()}
	switch {
	case stdout.overflowed:
		pe.Reason = fmt.Sprintf("printed more than %d bytes on stdout (a credentials document is a few hundred), so the agent stopped it", ProcessOutputLimit)
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the process exited successfully but left a child
		// holding its output open; what it printed before is complete.
		return processFixOutput(stdout.buf), nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(parent.Err(), context.Canceled):
		pe.Reason = "timed out after " + processSeconds(timeout)
		pe.TimedOut = true
		pe.err = context.DeadlineExceeded
		if len(stdout.buf) > 0 {
			pe.Reason += fmt.Sprintf(": it printed %d bytes but did not exit, and output counts only once the process exits, as in the AWS SDKs", len(stdout.buf))
		}
	case parent.Err() != nil:
		pe.Reason = "was stopped: " + parent.Err().Error()
		pe.err = parent.Err()
	default:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			pe.Reason = processExitReason(exit)
		} else {
			pe.Reason = "could not start: " + err.Error()
		}
	}
	return nil, pe
}

// processExitReason says how the process ended.
func processExitReason(exit *exec.ExitError) string {
	if code := exit.ExitCode(); code >= 0 {
		return fmt.Sprintf("exited with status %d", code)
	}
	return "ended: " + exit.String() // "signal: killed"
}

// processParse reads the credentials document, with the checks of
// processcreds.Provider.Retrieve. Unlike the SDK's errors, these never
// quote the output: it is made of credentials.
func processParse(out []byte) (aws.Credentials, error) {
	var resp processcreds.CredentialProcessResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return aws.Credentials{}, &ProcessError{Reason: "printed output that is not credentials JSON (output withheld)"}
	}
	switch {
	case resp.Version != 1:
		return aws.Credentials{}, &ProcessError{Reason: "printed credentials with a Version other than 1"}
	case resp.AccessKeyID == "":
		return aws.Credentials{}, &ProcessError{Reason: "printed credentials without an AccessKeyId"}
	case resp.SecretAccessKey == "":
		return aws.Credentials{}, &ProcessError{Reason: "printed credentials without a SecretAccessKey"}
	}
	c := aws.Credentials{
		Source:          processcreds.ProviderName,
		AccessKeyID:     resp.AccessKeyID,
		SecretAccessKey: resp.SecretAccessKey,
		SessionToken:    resp.SessionToken,
		AccountID:       resp.AccountID,
	}
	if resp.Expiration != nil {
		c.CanExpire = true
		c.Expires = *resp.Expiration
	}
	return c, nil
}

// processSeconds formats a timeout for people: "20 s", "1.5 s".
func processSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + " s"
}

// processStdout keeps what the process prints, up to limit bytes. The
// write that would pass the limit fails, which makes exec.Cmd stop
// reading and close the pipe, and calls over, which kills the process
// group: memory stays bounded however much the process prints.
type processStdout struct {
	buf        []byte
	limit      int
	over       func()
	overflowed bool
}

func (w *processStdout) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.limit {
		if !w.overflowed {
			w.overflowed = true
			w.over()
		}
		return 0, errProcessOutputLimit
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

var errProcessOutputLimit = errors.New("credential_process output over the limit")

// processStderr counts stderr and keeps its first processStderrExcerpt
// bytes. It never fails: a process is not stopped for talking.
type processStderr struct {
	head []byte
	n    int
}

func (w *processStderr) Write(p []byte) (int, error) {
	if room := processStderrExcerpt - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	w.n += len(p)
	return len(p), nil
}

// excerpt is the start of stderr as a Go string literal, so control
// characters (a terminal escape, a carriage return rewriting the line)
// reach nobody's terminal; "..." marks a cut.
func (w *processStderr) excerpt() string {
	if w.n == 0 {
		return ""
	}
	q := strconv.Quote(string(w.head))
	if w.n > len(w.head) {
		q += "..."
	}
	return q
}
