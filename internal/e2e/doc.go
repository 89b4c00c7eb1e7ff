// Package e2e is the harness end-to-end tests use to drive real peers: moto's
// STS server, the AWS CLI, boto3, aws-sdk-go-v2 and the AWS SDK for
// JavaScript v3, each run as a separate process with an environment built
// from scratch.
//
// The clean environment matters: this machine (and many developers'
// machines) export AWS_CA_BUNDLE, SSL_CERT_FILE, REQUESTS_CA_BUNDLE and
// NODE_EXTRA_CA_CERTS, and a client that inherits them measures the machine
// instead of the product. See CleanEnv.
//
// A peer that is absent makes the test skip with the reason, unless
// AWS_SSO_AGENT_REQUIRE_PEERS=1 (CI sets it), which turns the skip into a
// failure. Client runners skip themselves, so call them from a subtest when
// one missing client should not skip the others.
//
// A typical agent test:
//
//	moto := e2e.StartMoto(t)
//	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
//	env := e2e.CleanEnv(t, cfg.Env()...)
//	agent := e2e.StartProcess(t, env, agentBinary, "serve")
//	agent.WaitForOutput(t, "listening", 10*time.Second)
//	// ... load e2e.DefaultRoleProfile.Name, then for each of e2e.Clients():
//	arn, err := c.Run(t, e2e.CleanEnv(t, e2e.ContainerCredentialsEnv(url, tokenFile)...))
//	// want e2e.DefaultRoleProfile.AssumedRoleARN()
//	if err := agent.Stop(); err != nil { ... }
//
// Packages whose tests use GoSDK should end their TestMain with Run so the
// client binary built for the test process is removed:
//
//	func TestMain(m *testing.M) { os.Exit(e2e.Run(m)) }
package e2e
