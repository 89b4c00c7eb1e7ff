package agent_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

func ExampleSlots() {
	slots := agent.NewSlots(agent.SlotsConfig{})
	defer slots.Close()

	// The agent gets the provider from agent.ResolveSource; any
	// aws.CredentialsProvider will do.
	p := credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", "")
	info := agent.SourceInfo{Description: "profile example (static keys)"}
	if _, err := slots.Load(context.Background(), "example", agent.SourceSpec{Profile: "example"}, p, info); err != nil {
		fmt.Println(err)
		return
	}
	c, err := slots.Credentials(context.Background(), "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.AccessKeyID)
	for _, st := range slots.List() {
		fmt.Println(st)
	}
	// Output:
	// AKIAEXAMPLE
	// slot example: profile example (static keys)
}
