package awsiam

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/internal/fakeiam"
	"github.com/sentinel-gw/sentinel/ports"
)

const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"sentinel.alice.x"}}}]}`

// newPolicies points the SDK at fake through AWS_ENDPOINT_URL_IAM, with
// static credentials and no shared files of the machine's.
func newPolicies(t *testing.T, fake *fakeiam.Server) *Policies {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREVOKER000000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "revoker-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_IAM", fake.URL())
	p, err := Load(context.Background(), Options{MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRolePolicyRoundTrip(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "revoker-secret"), fakeiam.WithRole("Deployer"))
	p := newPolicies(t, fake)
	ctx := context.Background()
	if err := p.PutRolePolicy(ctx, "Deployer", "SentinelRevoke-abc-100", doc); err != nil {
		t.Fatal(err)
	}
	names, err := p.ListRolePolicies(ctx, "Deployer")
	if err != nil || !slices.Equal(names, []string{"SentinelRevoke-abc-100"}) {
		t.Fatalf("ListRolePolicies = %v, %v", names, err)
	}
	got, err := p.GetRolePolicy(ctx, "Deployer", "SentinelRevoke-abc-100")
	if err != nil || got != doc {
		t.Fatalf("GetRolePolicy = %q, %v; want the document written", got, err)
	}
	if err := p.DeleteRolePolicy(ctx, "Deployer", "SentinelRevoke-abc-100"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteRolePolicy(ctx, "Deployer", "SentinelRevoke-abc-100"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if calls := fake.Calls(); calls[0].AccessKeyID != "AKIAREVOKER000000001" {
		t.Errorf("signed with %q, want the revoker's key", calls[0].AccessKeyID)
	}
}

// More than one page of names comes back whole.
func TestListPages(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "revoker-secret"), fakeiam.WithUser("alice"), fakeiam.WithPageSize(2))
	p := newPolicies(t, fake)
	ctx := context.Background()
	small := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	var want []string
	for _, n := range []string{"a", "b", "c"} {
		if err := p.PutUserPolicy(ctx, "alice", n, small); err != nil {
			t.Fatal(err)
		}
		want = append(want, n)
	}
	names, err := p.ListUserPolicies(ctx, "alice")
	if err != nil || !slices.Equal(names, want) {
		t.Fatalf("ListUserPolicies = %v, %v; want %v", names, err, want)
	}
	lists := 0
	for _, c := range fake.Calls() {
		if c.Action == "ListUserPolicies" {
			lists++
		}
	}
	if lists != 2 {
		t.Fatalf("ListUserPolicies sent %d requests for 3 names at 2 a page, want 2", lists)
	}
	if err := p.DeleteUserPolicy(ctx, "alice", "b"); err != nil {
		t.Fatal(err)
	}
	if names, _ := p.ListUserPolicies(ctx, "alice"); !slices.Equal(names, []string{"a", "c"}) {
		t.Fatalf("after delete: %v", names)
	}
}

func TestErrorsFromIAM(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "revoker-secret"), fakeiam.WithRole("Full"))
	fake.Fill("Full", 50)
	p := newPolicies(t, fake)
	ctx := context.Background()
	if err := p.PutRolePolicy(ctx, "Full", "SentinelRevoke-abc-100", doc); !errors.Is(err, ports.ErrPolicyQuota) {
		t.Errorf("full role: %v, want ErrPolicyQuota", err)
	}
	if err := p.PutRolePolicy(ctx, "Missing", "n", doc); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("unknown role: %v, want ErrNotFound", err)
	}
	if err := p.PutRolePolicy(ctx, "Full", "bad name", doc); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("bad policy name: %v, want ErrInvalidArgument", err)
	}
	if err := p.PutRolePolicy(ctx, "Full", "n", `{"Statement":[]}`); !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("malformed document: %v, want ErrInvalidArgument (MalformedPolicyDocument)", err)
	}
	if _, err := p.ListRolePolicies(ctx, "Missing"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("list of unknown role: %v, want ErrNotFound", err)
	}
}

// Throttling and ConcurrentModification are retried with backoff until IAM
// answers; a refusal is not retried.
func TestRetries(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "revoker-secret"), fakeiam.WithRole("Deployer"))
	p := newPolicies(t, fake)
	ctx := context.Background()
	fake.Fail("PutRolePolicy", fakeiam.Failure{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded", Times: 2})
	if err := p.PutRolePolicy(ctx, "Deployer", "n1", doc); err != nil {
		t.Fatalf("after two throttles: %v", err)
	}
	fake.Fail("PutRolePolicy", fakeiam.Failure{Status: http.StatusConflict, Code: "ConcurrentModification", Message: "busy", Times: 1})
	if err := p.PutRolePolicy(ctx, "Deployer", "n2", doc); err != nil {
		t.Fatalf("after a ConcurrentModification: %v", err)
	}
	fake.Fail("PutRolePolicy", fakeiam.Failure{Status: http.StatusInternalServerError, Code: "ServiceFailure", Message: "x", Times: DefaultMaxAttempts})
	if err := p.PutRolePolicy(ctx, "Deployer", "n3", doc); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("failing every attempt: %v, want ErrUnavailable", err)
	}
	fake.Fail("PutRolePolicy", fakeiam.Failure{Status: http.StatusForbidden, Code: "AccessDenied", Message: "no", Times: 1})
	if err := p.PutRolePolicy(ctx, "Deployer", "n4", doc); !errors.Is(err, ports.ErrForbidden) {
		t.Fatalf("AccessDenied: %v, want ErrForbidden", err)
	}
	puts := map[string]int{}
	for _, c := range fake.Calls() {
		if c.Action == "PutRolePolicy" {
			puts[c.Params["PolicyName"]]++
		}
	}
	want := map[string]int{"n1": 3, "n2": 2, "n3": DefaultMaxAttempts, "n4": 1}
	for k, v := range want {
		if puts[k] != v {
			t.Errorf("PutRolePolicy %s sent %d times, want %d", k, puts[k], v)
		}
	}
}

// A revoker whose secret IAM does not know is refused, not retried.
func TestWrongSecret(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "another-secret"), fakeiam.WithRole("Deployer"))
	p := newPolicies(t, fake)
	err := p.PutRolePolicy(context.Background(), "Deployer", "n", doc)
	if !errors.Is(err, ports.ErrUnauthenticated) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v, want ErrUnauthenticated (SignatureDoesNotMatch)", err)
	}
	if len(fake.RolePolicies("Deployer")) != 0 {
		t.Fatal("a request with a bad signature wrote a policy")
	}
}

// Several sweeps at once over real HTTP: every expired policy is deleted
// once, none fails (a lost race is IAM's NoSuchEntity, counted as done),
// and the fresh one stays.
func TestConcurrentSweeps(t *testing.T) {
	fake := fakeiam.New(t, fakeiam.WithKey("AKIAREVOKER000000001", "revoker-secret"), fakeiam.WithRole("Deployer"))
	p := newPolicies(t, fake)
	ctx := context.Background()
	now := time.Unix(2_000_000_000, 0)
	for i := range 12 {
		if err := p.PutRolePolicy(ctx, "Deployer", awsdeny.Name(fmt.Sprintf("%032x", i), now.Add(-time.Minute)), doc); err != nil {
			t.Fatal(err)
		}
	}
	fresh := awsdeny.Name("f", now.Add(time.Hour))
	if err := p.PutRolePolicy(ctx, "Deployer", fresh, doc); err != nil {
		t.Fatal(err)
	}
	results := make([]awsdeny.SweepResult, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = awsdeny.Sweep(ctx, p, []string{"Deployer"}, nil, now) })
	}
	wg.Wait()
	deleted := 0
	for _, r := range results {
		if len(r.Failed) > 0 {
			t.Fatalf("a concurrent sweep failed: %v", r.Failed)
		}
		deleted += len(r.Deleted)
	}
	if deleted < 12 {
		t.Fatalf("%d deletions counted across the sweeps, want at least 12", deleted)
	}
	left := fake.RolePolicies("Deployer")
	if _, ok := left[fresh]; !ok || len(left) != 1 {
		t.Fatalf("left on the role: %v, want only %s", left, fresh)
	}
}
