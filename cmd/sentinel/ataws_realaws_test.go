package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/adapters/awsiam"
	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/ports"
)

// The revoke at AWS against real IAM and STS (docs/revocation.md, "Testing
// against real AWS"). It needs an AWS account, so it is skipped unless
// SENTINEL_TEST_AWS_ROLE_ARN and SENTINEL_TEST_AWS_REVOKER_PROFILE are set:
// the one skip allowed under CI too, where no account exists.
func TestAtAWSRealAWS(t *testing.T) {
	roleARN, profile := os.Getenv("SENTINEL_TEST_AWS_ROLE_ARN"), os.Getenv("SENTINEL_TEST_AWS_REVOKER_PROFILE")
	if roleARN == "" || profile == "" {
		t.Skip("set SENTINEL_TEST_AWS_ROLE_ARN and SENTINEL_TEST_AWS_REVOKER_PROFILE to run against real AWS (docs/revocation.md)")
	}
	region := os.Getenv("SENTINEL_TEST_AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(profile), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	iam := awsiam.New(cfg, awsiam.Options{})
	role, err := awsdeny.RoleName(roleARN)
	if err != nil {
		t.Fatal(err)
	}
	stsClient := sts.NewFromConfig(cfg)
	assume := func(name string) (aws.Credentials, string) {
		t.Helper()
		out, err := stsClient.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(name),
			SourceIdentity: aws.String(name), DurationSeconds: aws.Int32(900)})
		if err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
		c := out.Credentials
		return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken},
			aws.ToString(out.AssumedRoleUser.AssumedRoleId)
	}
	list := func(c aws.Credentials) error {
		client := dynamodb.New(dynamodb.Options{Region: region, Credentials: credentials.StaticCredentialsProvider{Value: c}})
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		return err
	}
	denied := func(err error) bool {
		var api smithy.APIError
		return errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException"
	}

	idA, idB := randomHex(t), randomHex(t)
	credsA, roleIDA := assume("sentinel.test." + idA)
	credsB, _ := assume("sentinel.test." + idB)
	for _, c := range []aws.Credentials{credsA, credsB} {
		if err := list(c); err != nil {
			t.Fatalf("ListTables before the deny (the role must allow it): %v", err)
		}
	}

	s := ports.Session{ID: idA, SourceIdentity: "sentinel.test." + idA, RoleARNs: []string{roleARN}, AssumedRoleIDs: []string{roleIDA}}
	now := time.Now()
	ds := awsdeny.Apply(ctx, iam, s, awsdeny.Options{}, now)
	t.Cleanup(func() {
		for _, d := range ds {
			if err := iam.DeleteRolePolicy(context.Background(), role, d.Policy); err != nil && !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	if awsdeny.Failed(ds) {
		t.Fatalf("deny: %s", awsdeny.Describe(ds[0]))
	}
	doc, err := iam.GetRolePolicy(ctx, role, ds[0].Policy)
	if err != nil || doc == "" {
		t.Fatalf("GetRolePolicy: %q, %v", doc, err)
	}

	deadline := time.Now().Add(3 * time.Minute)
	for err := list(credsA); !denied(err); err = list(credsA) {
		if time.Now().After(deadline) {
			t.Fatalf("AWS still answers session A 3 minutes after the deny: %v", err)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("AWS denied session A %s after the policy was written", time.Since(now).Round(time.Second))
	if err := list(credsB); err != nil {
		t.Fatalf("session B (same role, not revoked): %v, want allowed", err)
	}

	r := awsdeny.Sweep(ctx, iam, []string{role}, nil, ds[0].Until.Add(time.Second))
	if len(r.Failed) > 0 || len(r.Deleted) == 0 {
		t.Fatalf("sweep past the policy's time: %+v", r)
	}
	names, err := iam.ListRolePolicies(ctx, role)
	if err != nil || slices.Contains(names, ds[0].Policy) {
		t.Fatalf("after the sweep the role still lists %v (%v)", names, err)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
