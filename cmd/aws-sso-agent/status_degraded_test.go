package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// TestStatusShowsDegraded: status names a degraded endpoint or control
// socket, and says nothing of it while they serve normally.
func TestStatusShowsDegraded(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &agent.AgentStatus{
		URL: "http://127.0.0.1:1/", TLSURL: "https://127.0.0.1:1/", Started: time.Now(),
		EndpointDegraded: "accept: accept4: too many open files", EndpointDegradedSince: since,
		ControlDegraded: "accept: accept4: too many open files", ControlDegradedSince: since,
	}
	var out bytes.Buffer
	(&cli{stdout: &out, stderr: io.Discard}).writeStatus(st)
	for _, want := range []string{
		"             degraded since " + since.Local().Format(time.RFC3339) + ": accept: accept4: too many open files\n",
		"control:     degraded since " + since.Local().Format(time.RFC3339) + ": accept: accept4: too many open files\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status shows:\n%s\nwant a line %q", out.String(), want)
		}
	}
	st.EndpointDegraded, st.ControlDegraded = "", ""
	out.Reset()
	(&cli{stdout: &out, stderr: io.Discard}).writeStatus(st)
	if strings.Contains(out.String(), "degraded") {
		t.Errorf("status of a healthy agent:\n%s", out.String())
	}
}
