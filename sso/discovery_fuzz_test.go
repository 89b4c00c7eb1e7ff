package sso

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// portalAnswers is a portal that answers every ListAccounts with accounts
// and every ListAccountRoles with roles, whatever was asked.
type portalAnswers struct{ accounts, roles []byte }

func (p portalAnswers) Do(r *http.Request) (*http.Response, error) {
	body := p.roles
	if strings.HasSuffix(r.URL.Path, "/accounts") {
		body = p.accounts
	}
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}, nil
}

// FuzzDiscoverPortalAnswers feeds arbitrary portal answers through the
// SDK's deserializers into Discover: it must not panic, must end, and may
// return only roles that ValidRole accepts, labelled safely for a
// terminal.
func FuzzDiscoverPortalAnswers(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte(`{"accountList":[{"accountId":"111122223333","accountName":"prod","emailAddress":"p@example.com"}],"nextToken":null}`),
		[]byte(`{"roleList":[{"accountId":"111122223333","roleName":"Admin"}],"nextToken":null}`))
	f.Add([]byte(`{"accountList":[{"accountId":"111122223333","accountName":"\u001b[2J"}],"nextToken":"a"}`),
		[]byte(`{"roleList":[{"roleName":"x y"},{"roleName":"ReadOnly"}],"nextToken":"b"}`))
	f.Add([]byte(`{"accountList":null}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, accounts, roles []byte) {
		client := sso.New(sso.Options{
			Region:           "eu-west-1",
			BaseEndpoint:     aws.String("http://portal.invalid"),
			HTTPClient:       portalAnswers{accounts, roles},
			RetryMaxAttempts: 1,
		})
		got, err := (&Discoverer{Portal: client, Attempts: 1}).Discover(context.Background(), "tok")
		if err != nil {
			return
		}
		for _, r := range got {
			if !ValidRole(r) {
				t.Fatalf("Discover returned %+v", r)
			}
			for _, c := range r.Label() {
				if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 {
					t.Fatalf("Label %q holds control character %U", r.Label(), c)
				}
			}
		}
	})
}

// FuzzSessions feeds arbitrary config files to Sessions: it never
// panics, and every session it returns is either named or a legacy start
// URL with its region, found through a profile, listed once.
func FuzzSessions(f *testing.F) {
	fuzztest.Start(f)
	f.Add("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = A\n")
	f.Add("[default]\nsso_start_url = https://x/start#/\nsso_region = us-east-1\n[profile default]\nsso_start_url = https://x/start#/\nsso_region = us-east-1\n")
	f.Add("[profile a]\nsso_start_url = u\nsso_region = r\nsso_session =\n[sso-session ]\n[profile ]\n")
	cfg := filepath.Join(f.TempDir(), "config")
	f.Fuzz(func(t *testing.T, data string) {
		if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		sessions, err := Sessions(cfg)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range sessions {
			if s.Name == "" && (s.StartURL == "" || s.Region == "" || s.Profile == "") {
				t.Fatalf("legacy session without a start URL, region or profile: %+v", s)
			}
			key := s.Name + "\x00" + s.StartURL
			if s.Name != "" {
				key = s.Name
			}
			if seen[key] {
				t.Fatalf("session listed twice: %+v", s)
			}
			seen[key] = true
		}
	})
}
