package fakeapi_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-gw/sentinel/adapters/awsiam"
	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/internal/fakeapi"
	"github.com/sentinel-gw/sentinel/internal/fakeiam"
	"github.com/sentinel-gw/sentinel/internal/fakests"
)

const (
	userKey    = "AKIAUSER000000000001"
	userSecret = "user-secret"
	userARN    = "arn:aws:iam::123456789012:user/alice"
	roleARN    = "arn:aws:iam::123456789012:role/Deployer"
	revokerKey = "AKIAREVOKER000000001"
)

type world struct {
	sts *fakests.Server
	iam *fakeiam.Server
	api *fakeapi.Server
	pol *awsiam.Policies
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{sts: fakests.New(t, fakests.WithUser(userKey, userSecret, userARN))}
	w.iam = fakeiam.New(t, fakeiam.WithKey(revokerKey, "revoker-secret"), fakeiam.WithRole("Deployer"), fakeiam.WithUser("alice"))
	w.api = fakeapi.New(t, w.sts, w.iam)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", revokerKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "revoker-secret")
	t.Setenv("AWS_ENDPOINT_URL_IAM", w.iam.URL())
	pol, err := awsiam.Load(context.Background(), awsiam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.pol = pol
	return w
}

func stsClient(w *world) *sts.Client {
	return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.sts.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(userKey, userSecret, "")})
}

// assume returns credentials of roleARN for session name (SourceIdentity and
// RoleSessionName both name, as Sentinel sends them).
func (w *world) assume(t *testing.T, name string) aws.Credentials {
	t.Helper()
	out, err := stsClient(w).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
		RoleSessionName: aws.String(name), SourceIdentity: aws.String(name), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

// listTables calls the stand-in with a real SDK client; "" means allowed,
// else the error code.
func (w *world) listTables(t *testing.T, c aws.Credentials) string {
	t.Helper()
	code, err := fakeapi.ListTables(context.Background(), w.api.URL(), c)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestSessionDenyCutsOnlyThatSession(t *testing.T) {
	w := newWorld(t)
	a, b := w.assume(t, "sentinel.alice.aaaa"), w.assume(t, "sentinel.alice.bbbb")
	if code := w.listTables(t, a); code != "" {
		t.Fatalf("before any deny: %s", code)
	}
	ids := []string{awsdenyID(w, a)}
	doc, err := awsdeny.SessionDocument("sentinel.alice.aaaa", ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.pol.PutRolePolicy(context.Background(), "Deployer", "SentinelRevoke-aaaa-9999999999", doc); err != nil {
		t.Fatal(err)
	}
	if code := w.listTables(t, a); code != "AccessDeniedException" {
		t.Fatalf("denied session: %q, want AccessDeniedException", code)
	}
	if code := w.listTables(t, b); code != "" {
		t.Fatalf("the other session of the same user and role: %q, want allowed", code)
	}
	if last := w.api.Calls()[len(w.api.Calls())-2]; last.DeniedBy != "SentinelRevoke-aaaa-9999999999" {
		t.Errorf("denied by %q", last.DeniedBy)
	}

	// Both conditions must hold: the same SourceIdentity on another
	// aws:userid (another role session name) is not denied.
	doc, _ = awsdeny.SessionDocument("sentinel.alice.bbbb", []string{awsdenyID(w, a)})
	if err := w.pol.PutRolePolicy(context.Background(), "Deployer", "Mismatch", doc); err != nil {
		t.Fatal(err)
	}
	if code := w.listTables(t, b); code != "" {
		t.Fatalf("SourceIdentity matches but aws:userid does not: %q, want allowed", code)
	}
}

// awsdenyID is the AssumedRoleId the local STS gave the credentials.
func awsdenyID(w *world, c aws.Credentials) string {
	s, _ := w.sts.Session(c.AccessKeyID)
	return s.AssumedRoleID
}

func TestCutoffs(t *testing.T) {
	w := newWorld(t)
	a := w.assume(t, "sentinel.alice.aaaa")
	time.Sleep(1100 * time.Millisecond) // the cut-off is to the second
	if err := w.pol.PutRolePolicy(context.Background(), "Deployer", "Cut", awsdeny.CutoffDocument(time.Now())); err != nil {
		t.Fatal(err)
	}
	if code := w.listTables(t, a); code != "AccessDeniedException" {
		t.Fatalf("issued before the role cut-off: %q", code)
	}
	time.Sleep(1100 * time.Millisecond)
	if code := w.listTables(t, w.assume(t, "sentinel.alice.cccc")); code != "" {
		t.Fatalf("issued after the role cut-off: %q, want allowed", code)
	}

	out, err := stsClient(w).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	gst := aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	if code := w.listTables(t, gst); code != "" {
		t.Fatalf("GetSessionToken credentials before the user cut-off: %q", code)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := w.pol.PutUserPolicy(context.Background(), "alice", "Cut", awsdeny.CutoffDocument(time.Now())); err != nil {
		t.Fatal(err)
	}
	if code := w.listTables(t, gst); code != "AccessDeniedException" {
		t.Fatalf("GetSessionToken credentials after the user cut-off: %q", code)
	}
}

func TestRefusesWhatSTSDidNotIssue(t *testing.T) {
	w := newWorld(t)
	a := w.assume(t, "sentinel.alice.aaaa")
	forged := a
	forged.SecretAccessKey = "not-the-secret"
	if code := w.listTables(t, forged); code == "" || !strings.Contains(code, "Signature") {
		t.Fatalf("wrong secret: %q, want a signature error", code)
	}
	otherToken := a
	otherToken.SessionToken = w.assume(t, "sentinel.alice.bbbb").SessionToken
	if code := w.listTables(t, otherToken); code == "" {
		t.Fatal("another credential's session token was accepted")
	}
	if code := w.listTables(t, aws.Credentials{AccessKeyID: userKey, SecretAccessKey: userSecret}); code != "UnrecognizedClientException" {
		t.Fatalf("a key STS did not issue: %q", code)
	}
}
