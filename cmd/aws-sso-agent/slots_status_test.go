package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// TestStatusRestoredSlots: status tells a restored slot still loading from
// one whose source failed, and says when the slots file was set aside.
func TestStatusRestoredSlots(t *testing.T) {
	st := &agent.AgentStatus{
		URL: "http://127.0.0.1:1/", TLSURL: "https://127.0.0.1:1/", Started: time.Now(),
		RefreshMargin: "15m0s", SourceTimeout: "20s",
		SlotsFileError: "invalid slots file: no version; moved to /x/slots.json.invalid",
		Slots: []agent.SlotInfo{
			{Name: "", Source: "profile dev"},
			{Name: "ops", Source: "profile ops", LastError: "profile ops: no such profile in /c or /k"},
			{Name: "up", Source: "profile up (static keys)", Servable: true, LastRefresh: time.Now()},
		},
	}
	var out bytes.Buffer
	(&cli{stdout: &out, stderr: io.Discard}).writeStatus(st)
	for _, want := range []string{
		"refresh:     margin 15m0s, source timeout 20s\n",
		"slots file:  not restored: invalid slots file: no version; moved to /x/slots.json.invalid\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	for slot, state := range map[string]string{
		"default": "loading",
		"ops":     "unavailable: profile ops: no such profile in /c or /k",
		"up":      "ok",
	} {
		found := false
		for _, line := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == slot && strings.Contains(line, "  "+state) {
				found = true
			}
		}
		if !found {
			t.Errorf("slot %s is not shown as %q:\n%s", slot, state, out.String())
		}
	}
}
