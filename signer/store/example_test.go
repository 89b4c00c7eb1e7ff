package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// Two instances share one database; a lease says which of them renews
// the service's own certificate.
func ExampleDB_AcquireLease() {
	dir, _ := os.MkdirTemp("", "signer-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(dir, "signer.db")
	a, _ := store.Open(ctx, url, store.Options{})
	defer a.Close()
	b, _ := store.Open(ctx, url, store.Options{})
	defer b.Close()

	gotA, _ := a.AcquireLease(ctx, "renew-api-certificate", "instance-a", time.Minute)
	gotB, _ := b.AcquireLease(ctx, "renew-api-certificate", "instance-b", time.Minute)
	fmt.Println(gotA, gotB)
	// Output: true false
}
