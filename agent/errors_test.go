package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// TestControlErrorCodes: every failure the agent answers carries its code,
// and the client's error matches the code's sentinel with the message and
// hint unchanged. One row per code.
func TestControlErrorCodes(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		code     string
		sentinel error
		hint     string
	}{
		{"bad request", badRequest(errors.New("agent: bad control message: no profile given")), CodeBadRequest, ErrBadRequest, ""},
		{"no slot", &HintError{Err: fmt.Errorf("slot dev: %w", ErrNoSlot), HintText: "see what is loaded with: aws-sso-agent list"},
			CodeNoSlot, ErrNoSlot, "see what is loaded with: aws-sso-agent list"},
		{"source failed", &SourceError{Source: "profile sso", Err: errors.New("token expired"), HintText: "run: aws sso login --profile sso"},
			CodeSourceFailed, ErrSourceFailed, "run: aws sso login --profile sso"},
		{"no session", fmt.Errorf("session 00ff: %w", ErrNoSession), CodeNoSession, ErrNoSession, ""},
		{"no public cert", &codedError{err: errors.New("this agent serves no public certificate"), is: public.ErrNoCert},
			CodeNoPublicCert, public.ErrNoCert, ""},
		{"unsupported", errNoSlots, CodeUnsupported, ErrUnsupported, ""},
		{"internal", errors.New("disk on fire"), CodeInternal, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := errorResponse(tt.err)
			if resp.Code != tt.code || resp.Error != tt.err.Error() || resp.Hint != tt.hint {
				t.Errorf("response = %+v, want code %q, message %q, hint %q", resp, tt.code, tt.err.Error(), tt.hint)
			}
			// Through JSON, as the client reads it.
			b, _ := json.Marshal(resp)
			var back ControlResponse
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got := controlError(&back)
			if got == nil || got.Error() != tt.err.Error() || ErrorHint(got) != tt.hint {
				t.Fatalf("client error %v (hint %q), want %q (hint %q)", got, ErrorHint(got), tt.err, tt.hint)
			}
			if tt.sentinel != nil && !errors.Is(got, tt.sentinel) {
				t.Errorf("client error does not match %v", tt.sentinel)
			}
			for code, other := range codeSentinels {
				if other != tt.sentinel && errors.Is(got, other) {
					t.Errorf("client error matches %v, the sentinel of %s", other, code)
				}
			}
			if tt.sentinel != nil && !errors.Is(tt.err, tt.sentinel) {
				t.Errorf("server error does not match %v", tt.sentinel)
			}
		})
	}
}

// TestControlErrorUnknownCode: a code this client does not know (a newer
// agent), or none (an older one), still gives the message and hint.
func TestControlErrorUnknownCode(t *testing.T) {
	for _, code := range []string{"", "from_the_future"} {
		err := controlError(&ControlResponse{Error: "something new", Code: code, Hint: "do this"})
		if err.Error() != "something new" || ErrorHint(err) != "do this" {
			t.Errorf("code %q: %v (hint %q)", code, err, ErrorHint(err))
		}
		for c, s := range codeSentinels {
			if errors.Is(err, s) {
				t.Errorf("code %q matches the sentinel of %s", code, c)
			}
		}
	}
}

// TestErrorHintOutermostWins: a hint attached closer to the user replaces
// the one from deeper down, as the CLI has always shown it.
func TestErrorHintOutermostWins(t *testing.T) {
	inner := &SourceError{Source: "profile p", Err: errors.New("x"), HintText: "inner"}
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("plain"), ""},
		{inner, "inner"},
		{fmt.Errorf("wrapped: %w", inner), "inner"},
		{&HintError{Err: inner, HintText: "outer"}, "outer"},
		{&HintError{Err: errors.New("x"), HintText: "a\nb"}, "a\nb"},
	}
	for _, tt := range tests {
		if got := ErrorHint(tt.err); got != tt.want {
			t.Errorf("ErrorHint(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestControlSessionErrorCodes: session failures reach OpenSession's and
// revoke's callers as sentinels.
func TestControlSessionErrorCodes(t *testing.T) {
	path := startControl(t, &ControlServer{})
	c := ControlClient{Path: path}
	_, err := c.OpenSession(context.Background(), "u@h", nil)
	if !errors.Is(err, ErrUnsupported) || err.Error() != "agent: open session: this agent serves no SSH sessions" {
		t.Errorf("open session without sessions: %v, want ErrUnsupported with the message", err)
	}
	_, err = c.Do(context.Background(), ControlRequest{Op: OpSessionRevoke, Session: &SessionRequest{ID: "00ff"}})
	if !errors.Is(err, ErrNoSession) {
		t.Errorf("revoke without sessions: %v, want ErrNoSession", err)
	}
	_, err = c.Do(context.Background(), ControlRequest{Op: OpReloadCerts})
	if !errors.Is(err, public.ErrNoCert) || err.Error() != "this agent serves no public certificate" {
		t.Errorf("reload-certs without a certificate: %v, want public.ErrNoCert", err)
	}
	_, err = c.Do(context.Background(), ControlRequest{Op: "rm -rf"})
	if !errors.Is(err, ErrBadRequest) {
		t.Errorf("unknown op: %v, want ErrBadRequest", err)
	}
}
