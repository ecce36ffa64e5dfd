// Command printcreds is a real AWS SDK client: it loads credentials the way
// every aws-sdk-go-v2 program does and prints what it was served. The quick
// start runs it as sentinel's child.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "printcreds:", err)
		os.Exit(1)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "printcreds:", err)
		os.Exit(1)
	}
	fmt.Printf("AccessKeyId:     %s\n", creds.AccessKeyID)
	fmt.Printf("SecretAccessKey: %s (%d characters, not shown)\n", mask(creds.SecretAccessKey), len(creds.SecretAccessKey))
	fmt.Printf("Expires:         %s\n", creds.Expires.UTC().Format(time.RFC3339))
	fmt.Printf("Source:          %s\n", creds.Source)
	fmt.Printf("Region:          %s\n", cfg.Region)
}

func mask(s string) string {
	if len(s) < 4 {
		return "****"
	}
	return "****" + s[len(s)-4:]
}
