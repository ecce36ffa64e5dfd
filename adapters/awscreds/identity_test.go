package awscreds

import (
	"context"
	"errors"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestNameFromARN(t *testing.T) {
	tests := []struct {
		arn  string
		want string
	}{
		{"arn:aws:iam::123456789012:user/alice", "alice"},
		{"arn:aws:iam::123456789012:user/path/to/alice", "alice"},
		{"arn:aws:sts::123456789012:assumed-role/Role/sess", "sess"},
		{"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.com", "alice@example.com"},
		{"arn:aws:sts::123456789012:assumed-role/Role/a+b=c,d.e@f-g_h", "a+b=c,d.e@f-g_h"},
		{"arn:aws:sts::123456789012:federated-user/bob", "bob"},
		{"arn:aws:iam::123456789012:role/path/Deploy", "Deploy"},
		{"arn:aws:iam::123456789012:root", "root"},
		{"arn:aws-cn:iam::123456789012:user/Zhang", "Zhang"},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/R/MixedCase.Name", "MixedCase.Name"},
		{"arn:aws:iam::123456789012:user/ Alice ", " Alice "},
		{"", ""},
		{"alice", ""},
		{"arn:aws:iam::123456789012", ""},
		{"urn:aws:iam::123456789012:user/alice", ""},
	}
	for _, tt := range tests {
		if got := NameFromARN(tt.arn); got != tt.want {
			t.Errorf("NameFromARN(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}

func TestParseIdentitySource(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"sts", "sts", false},
		{"os", "os", false},
		{"", "", true},
		{"STS", "", true},
		{"iam", "", true},
	}
	for _, tt := range tests {
		got, err := ParseIdentitySource(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseIdentitySource(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && (!errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), `"sts"`) || !strings.Contains(err.Error(), `"os"`)) {
			t.Errorf("ParseIdentitySource(%q) error %q does not list the choices", tt.in, err)
		}
	}
}

func TestOSIdentityResolverReturnsTheCurrentUser(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skipf("os/user cannot resolve this process's user: %v", err)
	}
	got, err := NewOSIdentityResolver().Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != u.Username || got.Name == "" || got.Source != "os" || got.ARN != "" {
		t.Fatalf("Identity = %+v, want Name %q, Source os, no ARN", got, u.Username)
	}
}

func TestSourceIdentityResolverAsksAboutTheSourceCredentials(t *testing.T) {
	const aliceARN = "arn:aws:iam::111122223333:user/engineering/alice"
	fake, _ := setup(t, fakests.WithUser(baseKeyID, baseSecret, aliceARN))
	p := newProvider(t, "prod", Options{})
	got, err := p.SourceIdentityResolver().Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := ports.Identity{ARN: aliceARN, Name: "alice", Source: "sts"}
	if got != want {
		t.Errorf("Identity = %+v, want %+v", got, want)
	}
	calls := fake.Calls()
	if len(calls) != 1 || calls[0].Action != "GetCallerIdentity" || calls[0].AccessKeyID != baseKeyID {
		t.Fatalf("calls = %+v, want one GetCallerIdentity signed with the source key", calls)
	}
}

func TestSourceIdentityResolverErrors(t *testing.T) {
	fake, _ := setup(t, fakests.WithFailure("GetCallerIdentity", fakests.Failure{
		Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.",
	}))
	p := newProvider(t, "prod", Options{})
	_, err := p.SourceIdentityResolver().Identity(context.Background())
	want := "sts GetCallerIdentity for profile prod: InvalidClientTokenId: The security token included in the request is invalid."
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	assertNoSecret(t, err)

	fake.SetFailure("GetCallerIdentity", nil)
	fake.SetDelay(10 * time.Second)
	p = newProvider(t, "prod", Options{Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err = p.SourceIdentityResolver().Identity(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s, want a deadline near 200ms", err, time.Since(start))
	}
}

func TestSTSIdentityResolverUsesTheStandardChain(t *testing.T) {
	tests := []struct {
		name       string
		awsProfile string
		env        map[string]string
		wantKey    string
		wantRegion string
	}{
		{"environment keys", "", map[string]string{"AWS_ACCESS_KEY_ID": envKeyID, "AWS_SECRET_ACCESS_KEY": envSecret, "AWS_DEFAULT_REGION": "us-east-2"}, envKeyID, "us-east-2"},
		{"AWS_PROFILE", "", map[string]string{"AWS_PROFILE": "plain"}, plainKeyID, "ap-south-1"},
		{"explicit profile beats environment keys", "plain", map[string]string{"AWS_ACCESS_KEY_ID": envKeyID, "AWS_SECRET_ACCESS_KEY": envSecret}, plainKeyID, "ap-south-1"},
		{"environment region", "", map[string]string{"AWS_PROFILE": "plain", "AWS_REGION": "eu-north-1"}, plainKeyID, "eu-north-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := setup(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r, err := NewSTSIdentityResolver(context.Background(), tt.awsProfile, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Identity(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantARN := "arn:aws:iam::" + fakests.DefaultAccount + ":user/" + tt.wantKey
			if got.ARN != wantARN || got.Name != tt.wantKey || got.Source != "sts" {
				t.Errorf("Identity = %+v, want ARN %s", got, wantARN)
			}
			calls := fake.Calls()
			if len(calls) != 1 || calls[0].AccessKeyID != tt.wantKey {
				t.Fatalf("calls = %+v, want one signed with %s", calls, tt.wantKey)
			}
			if calls[0].Region != tt.wantRegion {
				t.Errorf("signed for %q, want %q", calls[0].Region, tt.wantRegion)
			}
		})
	}
}

func TestSTSIdentityResolverUnknownProfile(t *testing.T) {
	for _, viaEnv := range []bool{false, true} {
		_, f := setup(t)
		profile := "nope"
		if viaEnv {
			t.Setenv("AWS_PROFILE", "nope")
			profile = ""
		}
		_, err := NewSTSIdentityResolver(context.Background(), profile, Options{})
		if !errors.Is(err, ports.ErrNotFound) || !strings.Contains(err.Error(), `profile "nope" not found`) ||
			!strings.Contains(err.Error(), f.config) {
			t.Errorf("AWS_PROFILE=%v: err = %v, want the not-found message", viaEnv, err)
		}
	}
}
