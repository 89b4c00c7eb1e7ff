package wire_test

import (
	"fmt"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func ExampleShell_Exports() {
	sh, _ := wire.ParseShell("fish")
	out, err := sh.Exports([]wire.Var{{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: "http://127.0.0.1:4144/"}}, []string{"AWS_PROFILE"})
	if err != nil {
		panic(err)
	}
	fmt.Print(out)
	// Output:
	// set -e AWS_PROFILE;
	// set -gx AWS_CONTAINER_CREDENTIALS_FULL_URI 'http://127.0.0.1:4144/';
}

func ExampleAppendCredentials() {
	c := wire.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token",
		Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	fmt.Println(string(wire.AppendCredentials(nil, &c)))
	// Output:
	// {"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","Token":"token","Expiration":"2030-01-02T03:04:05Z"}
}

func ExampleSessionDir() {
	// The agent installs the session file here, relative to the remote
	// user's $HOME; aws-sso-remote looks for it there.
	fmt.Println(wire.SessionFile("00112233445566778899aabbccddeeff"))
	// Output:
	// .aws-sso-agent/sessions/00112233445566778899aabbccddeeff/session.json
}

func ExampleSlotName() {
	fmt.Println(wire.SlotName(""), wire.SlotName("dev"), wire.QuotedSlotName("dev"))
	// Output:
	// default dev "dev"
}
