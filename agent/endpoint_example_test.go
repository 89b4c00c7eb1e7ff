package agent_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

type exampleEndpointSource struct{}

func (exampleEndpointSource) Credentials(_ context.Context, slot string) (agent.Credentials, error) {
	if slot != "" {
		return agent.Credentials{}, fmt.Errorf("slot %q: %w", slot, agent.ErrNoSlot)
	}
	return agent.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token",
		Expires: time.Now().Add(time.Hour)}, nil
}

// An endpoint on a loopback port, and a request as an SDK makes it with
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN.
func ExampleNewEndpoint() {
	tokens := agent.NewTokens()
	token, err := agent.NewToken()
	if err != nil {
		panic(err)
	}
	tokens.Add(token, agent.Grant{}) // the local token: every slot
	e, err := agent.NewEndpoint(agent.EndpointConfig{Source: exampleEndpointSource{}, Tokens: tokens})
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go e.Serve(l)
	defer e.Shutdown(context.Background())

	for _, path := range []string{"/", "/slot/dev"} {
		req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+path, nil)
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Output:
	// / 200 application/json
	// /slot/dev 404 application/json
}
