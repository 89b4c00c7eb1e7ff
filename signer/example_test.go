package signer_test

import (
	"fmt"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

func ExampleCheckLabel() {
	for _, l := range []string{"Alice-Laptop", "www", "amaz0n", "xn--80ak6aa92e"} {
		got, err := signer.CheckLabel(l)
		fmt.Println(got, err)
	}
	// Output:
	// alice-laptop <nil>
	//  signer: hostname label refused: "www" is reserved
	//  signer: hostname label refused: "amaz0n" looks like a name it could impersonate
	//  signer: hostname label refused: "xn--80ak6aa92e" must not have hyphens in its third and fourth places (IDNA)
}

func ExampleNewAPIKey() {
	key, hash, err := signer.NewAPIKey()
	if err != nil {
		panic(err)
	}
	// Show key once; store only hash. A request's key is looked up by
	// the same hash.
	again, _ := signer.ParseAPIKey(key)
	fmt.Println(len(key), len(hash), string(again) == string(hash))
	// Output: 47 32 true
}
