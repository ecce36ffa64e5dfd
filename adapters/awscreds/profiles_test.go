package awscreds

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProfileNames(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	credentials := filepath.Join(dir, "credentials")
	writeFile(t, config, `# comment
[default]
region = us-east-1

[profile prod]
role_arn = arn:aws:iam::111122223333:role/admin
source_profile = default
[ profile  staging ]
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
[services local]
[profile dev]
`)
	writeFile(t, credentials, `[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
[ci-bot]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
`)
	t.Setenv("AWS_CONFIG_FILE", config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credentials)
	got, err := ProfileNames()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ci-bot", "default", "dev", "prod", "staging"}
	if !slices.Equal(got, want) {
		t.Errorf("ProfileNames() = %q, want %q", got, want)
	}

	// No files: no profiles, no error.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "absent-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "absent-credentials"))
	if got, err := ProfileNames(); err != nil || len(got) != 0 {
		t.Errorf("without files: %q, %v; want none and no error", got, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
