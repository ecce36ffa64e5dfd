package awscreds

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

const ssoConfig = `
[profile ssonew]
region = eu-west-1
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1

[profile ssolegacy]
region = eu-west-1
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = Dev

[profile ssorole]
region = eu-west-1
role_arn = arn:aws:iam::111122223333:role/Deploy
source_profile = ssonew
`

// Without a cached token (HOME is empty), every way in says which login to run.
func TestSSOWithoutTokenSaysWhichLoginToRun(t *testing.T) {
	tests := []struct{ profile, want string }{
		{"ssonew", "aws sso login --sso-session corp"},
		{"ssolegacy", "aws sso login --profile ssolegacy"},
		{"ssorole", "aws sso login --sso-session corp"},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fake, f := setup(t)
			appendFile(t, f.config, ssoConfig)
			p := newProvider(t, tt.profile, Options{})
			_, credErr := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
			_, idErr := p.SourceIdentityResolver().Identity(context.Background())
			for _, err := range []error{credErr, idErr} {
				if !errors.Is(err, ErrSSOLogin) {
					t.Fatalf("err = %v, want ErrSSOLogin", err)
				}
				if !strings.Contains(err.Error(), "`"+tt.want+"`") || !strings.Contains(err.Error(), "missing or expired") {
					t.Errorf("error %q does not say to run %q", err, tt.want)
				}
			}
			if n := len(fake.Calls()); n != 0 {
				t.Fatalf("STS got %d calls", n)
			}
		})
	}
}
