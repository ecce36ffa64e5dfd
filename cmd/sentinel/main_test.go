package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// The test binary doubles as the AWS SDK child that sentinel exec runs: it is
// re-executed with childModeEnv set, and TestMain dispatches on it before
// any test runs.
const (
	childModeEnv = "SENTINEL_E2E_CHILD"
	// childOutEnv names the file a child writes its results to.
	childOutEnv = "SENTINEL_E2E_OUT"
	// childFailCodeEnv is the exit code of a retrieve that fails (default 3),
	// so a test can tell the child's code from sentinel's own.
	childFailCodeEnv = "SENTINEL_E2E_FAIL_CODE"
	// childAfterDenialEnv: the loop stops this many requests after the first refusal.
	childAfterDenialEnv = "SENTINEL_E2E_AFTER_DENIAL"
	// childMaxEnv bounds the loop's running time (a Go duration).
	childMaxEnv = "SENTINEL_E2E_MAX"
	// childArmEnv names a file: refusals are counted toward childAfterDenialEnv
	// only once it exists, so the test decides when the last stretch begins.
	childArmEnv = "SENTINEL_E2E_ARM_FILE"

	childRetrieve = "retrieve"
	childLoop     = "loop"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	// testenv.Main stops the Redis and DynamoDB Local containers it started.
	code := testenv.Main(m)
	e2e.Cleanup()
	os.Exit(code)
}

func runChild(mode string) int {
	switch mode {
	case childRetrieve:
		return retrieveOnce()
	case childLoop:
		return retrieveLoop()
	case childMetrics:
		return metricsChild()
	default:
		fmt.Fprintf(os.Stderr, "e2e child: unknown mode %q\n", mode)
		return 2
	}
}

// retrieveResult is what the retrieve child saw. Secrets are hashed, never written.
type retrieveResult struct {
	OK           bool      `json:"ok"`
	Error        string    `json:"error,omitempty"`
	AccessKeyID  string    `json:"access_key_id,omitempty"`
	SecretSHA256 string    `json:"secret_sha256,omitempty"`
	TokenSHA256  string    `json:"token_sha256,omitempty"`
	CanExpire    bool      `json:"can_expire"`
	Expires      time.Time `json:"expires"`
	Source       string    `json:"source,omitempty"`
	Region       string    `json:"region,omitempty"`
	RetrievedAt  time.Time `json:"retrieved_at"`
}

// retrieveOnce loads credentials the way every aws-sdk-go-v2 program does.
func retrieveOnce() int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var res retrieveResult
	// The SDK's cache reports Expires 5 minutes early for container
	// credentials; without that window it reports what was served.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 0
	}))
	if err == nil {
		res.Region = cfg.Region
		var creds aws.Credentials
		creds, err = cfg.Credentials.Retrieve(ctx)
		res.RetrievedAt = time.Now()
		if err == nil {
			res.OK = true
			res.AccessKeyID = creds.AccessKeyID
			res.SecretSHA256 = sha256Hex(creds.SecretAccessKey)
			res.TokenSHA256 = sha256Hex(creds.SessionToken)
			res.CanExpire, res.Expires, res.Source = creds.CanExpire, creds.Expires, creds.Source
		}
	}
	if err != nil {
		res.Error = err.Error()
	}
	if werr := writeChildJSON(res); werr != nil {
		fmt.Fprintln(os.Stderr, "e2e child:", werr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e child: retrieve:", err)
		code, cerr := strconv.Atoi(os.Getenv(childFailCodeEnv))
		if cerr != nil {
			code = 3
		}
		return code
	}
	return 0
}

// requestRecord is one credential request of the loop child.
type requestRecord struct {
	Start       int64  `json:"start"` // UnixNano
	End         int64  `json:"end"`
	OK          bool   `json:"ok"`
	Message     string `json:"message,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
}

// retrieveLoop fetches credentials from the container endpoint over and over
// with the SDK's endpointcreds provider and no retries, so every iteration is
// exactly one HTTP request. It stops childAfterDenialEnv requests after the
// first refusal (counted once childArmEnv's file exists), or after childMaxEnv.
func retrieveLoop() int {
	uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	token := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if uri == "" || token == "" {
		fmt.Fprintln(os.Stderr, "e2e child: no container credentials endpoint in the environment")
		return 2
	}
	afterDenial, err := strconv.Atoi(os.Getenv(childAfterDenialEnv))
	if err != nil {
		afterDenial = 50
	}
	maxRun, err := time.ParseDuration(os.Getenv(childMaxEnv))
	if err != nil {
		maxRun = 20 * time.Second
	}
	out, err := os.OpenFile(os.Getenv(childOutEnv), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e child:", err)
		return 2
	}
	defer out.Close()

	provider := endpointcreds.New(uri, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		o.Retryer = aws.NopRetryer{}
	})
	armFile := os.Getenv(childArmEnv)
	armed := armFile == ""
	deadline := time.Now().Add(maxRun)
	sinceDenial := -1
	for time.Now().Before(deadline) && sinceDenial < afterDenial {
		if !armed {
			_, serr := os.Stat(armFile)
			armed = serr == nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		creds, err := provider.Retrieve(ctx)
		end := time.Now()
		cancel()
		rec := requestRecord{Start: start.UnixNano(), End: end.UnixNano(), OK: err == nil, AccessKeyID: creds.AccessKeyID}
		if err != nil {
			rec.Message = err.Error()
		}
		line, _ := json.Marshal(rec)
		// One write per line, so the test can read a consistent prefix while we run.
		if _, err := out.Write(append(line, '\n')); err != nil {
			fmt.Fprintln(os.Stderr, "e2e child:", err)
			return 2
		}
		switch {
		case sinceDenial >= 0 && armed:
			sinceDenial++
		case sinceDenial < 0 && err != nil:
			sinceDenial = 0
		}
		time.Sleep(time.Millisecond) // leave the machine some air
	}
	return 0
}

func writeChildJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(os.Getenv(childOutEnv), data, 0o600)
}

func sha256Hex(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
