package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Account is the account moto reports for every identity it serves.
const Account = "123456789012"

// Static keys for moto, which accepts any; they look like keys so that no
// client rejects them on shape. StaticUserARN is what moto's
// GetCallerIdentity returns for keys it has not issued itself.
const (
	StaticAccessKeyID     = "AKIAE2ETESTKEY000001"
	StaticSecretAccessKey = "e2e-test-secret-key-not-a-real-one-000001"
	StaticUserARN         = "arn:aws:sts::" + Account + ":user/moto"
)

// StaticKeysEnv returns the variables that give a client moto's static keys.
func StaticKeysEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + StaticAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + StaticSecretAccessKey,
	}
}

// Moto is a running moto_server.
type Moto struct {
	Endpoint string // base URL, "http://127.0.0.1:PORT"
	Process  *Process
}

// motoStartTimeout bounds moto_server's start; it takes about 1.5 s here,
// almost all of it Python imports.
const motoStartTimeout = 30 * time.Second

// StartMoto runs `moto_server -H 127.0.0.1 -p PORT` on a free port and waits
// until it answers. The server is killed in t.Cleanup. If moto_server is not
// installed the test is skipped (see PeerMissing).
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	path, err := exec.LookPath("moto_server")
	if err != nil {
		PeerMissing(t, "moto_server not found in PATH (pip install 'moto[server]')")
	}
	// FreePort's port can be taken before moto binds it; try a few.
	const attempts = 5
	for i := 0; i < attempts; i++ {
		port := FreePort(t)
		p := StartProcess(t, CleanEnv(t), path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Process: p}
		switch err := m.waitReady(); {
		case err == nil:
			return m
		case strings.Contains(p.Output(), "already in use"):
			t.Logf("e2e: moto_server lost port %d to another process; retrying", port)
			continue
		default:
			_ = p.Stop()
			t.Fatalf("e2e: start moto_server: %v; output:\n%s", err, p.Output())
		}
	}
	t.Fatalf("e2e: start moto_server: every one of %d free ports was taken before moto bound it", attempts)
	return nil
}

// waitReady waits until moto says it is running and answers HTTP. Waiting
// for its own log line first ensures the answer comes from this moto, not
// from another process that took the port.
func (m *Moto) waitReady() error {
	deadline := time.Now().Add(motoStartTimeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if !m.Process.Running() {
			return fmt.Errorf("moto_server exited: %v", m.Process.Err())
		}
		if strings.Contains(m.Process.Output(), "Running on") {
			resp, err := client.Get(m.Endpoint + "/")
			if err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("moto_server not ready within %v", motoStartTimeout)
}

// RoleARN returns the ARN of role name in moto's account. moto lets anyone
// assume any role, existing or not.
func RoleARN(role string) string { return "arn:aws:iam::" + Account + ":role/" + role }

// AssumedRoleARN returns the caller identity moto reports for credentials
// from AssumeRole of role with the given session name.
func AssumedRoleARN(role, session string) string {
	return "arn:aws:sts::" + Account + ":assumed-role/" + role + "/" + session
}

// AssumeRole asks moto's STS for credentials of role, as the static keys,
// lasting d (moto's default is 900 s, inside every SDK's refresh window).
func (m *Moto) AssumeRole(t testing.TB, role, session string, d time.Duration) aws.Credentials {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := sts.New(sts.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(StaticAccessKeyID, StaticSecretAccessKey, ""),
	})
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(RoleARN(role)),
		RoleSessionName: aws.String(session),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
	})
	if err != nil {
		t.Fatalf("e2e: moto AssumeRole %s: %v", role, err)
	}
	c := out.Credentials
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		CanExpire:       true,
		Expires:         aws.ToTime(c.Expiration),
		AccountID:       Account,
		Source:          "moto",
	}
}

// STSEnv returns the variable that sends a client's STS calls to moto;
// AWS CLI v1, botocore, aws-sdk-go-v2 and the JavaScript SDK all honour it.
func (m *Moto) STSEnv() []string {
	return []string{"AWS_ENDPOINT_URL_STS=" + m.Endpoint}
}
