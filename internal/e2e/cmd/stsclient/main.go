// Command stsclient prints the caller identity ARN that aws-sdk-go-v2's
// default configuration resolves to. The e2e harness runs it as the Go SDK
// client: everything (credentials, region, endpoint) comes from the
// environment and shared config files, exactly as in a user's program.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	os.Exit(run(os.Stdout, os.Stderr))
}

func run(stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "stsclient: load config: %v\n", err)
		return 1
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintf(stderr, "stsclient: get caller identity: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, aws.ToString(out.Arn))
	return 0
}
