package awscreds_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/remote/awscreds"
)

// A program on a host reached with `aws-sso-agent ssh` uses the
// workstation's credentials for slot "dev", proved genuine in process.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		// LoadDefaultConfig wraps it in an aws.CredentialsCache.
		config.WithCredentialsProvider(awscreds.New(awscreds.Options{Slot: "dev"})),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		// remote.HintOf says what to do: reconnect, load the slot, ...
		fmt.Println(err, remote.HintOf(err))
		return
	}
	fmt.Println(*out.Arn)
}
