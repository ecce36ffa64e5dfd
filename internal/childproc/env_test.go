package childproc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestChildEnv(t *testing.T) {
	const cfg = "/private/empty-config"
	tests := []struct {
		name   string
		parent []string
		set    map[string]string
		want   []string
	}{
		{
			name:   "unrelated variables kept in order, empty config appended",
			parent: []string{"PATH=/usr/bin:/bin", "HOME=/home/dev", "TF_LOG=debug"},
			want:   []string{"PATH=/usr/bin:/bin", "HOME=/home/dev", "TF_LOG=debug", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg},
		},
		{
			name: "every credential-bearing variable removed",
			parent: []string{
				"AWS_ACCESS_KEY_ID=AKIAPARENT", "AWS_SECRET_ACCESS_KEY=parent-secret", "AWS_SESSION_TOKEN=parent-token",
				"AWS_SECURITY_TOKEN=legacy", "AWS_PROFILE=prod", "AWS_DEFAULT_PROFILE=prod",
				"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/creds", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2/x",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN=ecs-token", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/var/token",
				"AWS_WEB_IDENTITY_TOKEN_FILE=/var/oidc", "AWS_ROLE_ARN=arn:aws:iam::1:role/ci", "AWS_CREDENTIAL_EXPIRATION=2030-01-01T00:00:00Z",
				"AWS_CONFIG_FILE=/home/dev/.aws/config", "AWS_SHARED_CREDENTIALS_FILE=/home/dev/.aws/credentials",
				"AWS_CREDENTIAL_FILE=/home/dev/.ec2-keys", "BOTO_CONFIG=/home/dev/.boto",
				"PATH=/bin",
			},
			want: []string{"PATH=/bin", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg},
		},
		{
			name:   "server mode: container variables and region set, parent ones replaced",
			parent: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://old", "AWS_REGION=us-east-1", "HOME=/h"},
			set: map[string]string{
				"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:4567/creds",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN":  "new-token",
				"AWS_REGION":                         "eu-west-1",
			},
			want: []string{
				"HOME=/h", "AWS_CONFIG_FILE=" + cfg, "AWS_CONTAINER_AUTHORIZATION_TOKEN=new-token",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4567/creds", "AWS_REGION=eu-west-1", "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg,
			},
		},
		{
			name:   "cli mode: keys set after the parent's are removed",
			parent: []string{"AWS_ACCESS_KEY_ID=AKIAPARENT", "AWS_SECRET_ACCESS_KEY=old"},
			set:    map[string]string{"AWS_ACCESS_KEY_ID": "ASIACHILD", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"},
			want: []string{
				"AWS_ACCESS_KEY_ID=ASIACHILD", "AWS_CONFIG_FILE=" + cfg, "AWS_SECRET_ACCESS_KEY=s",
				"AWS_SESSION_TOKEN=t", "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg,
			},
		},
		{
			name:   "duplicates: first parent value kept, later ones dropped",
			parent: []string{"PATH=/first", "HOME=/h", "PATH=/second", "AWS_PROFILE=a", "AWS_PROFILE=b", "HOME=/h2"},
			want:   []string{"PATH=/first", "HOME=/h", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg},
		},
		{
			name:   "values with '=' and empty values preserved",
			parent: []string{"TF_CLI_ARGS=-var=a=b", "EMPTY=", "NOEQUALS", "NOEQUALS"},
			want:   []string{"TF_CLI_ARGS=-var=a=b", "EMPTY=", "NOEQUALS", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg},
		},
		{
			name:   "set overrides the empty config path when asked",
			parent: nil,
			set:    map[string]string{"AWS_CONFIG_FILE": "/explicit"},
			want:   []string{"AWS_CONFIG_FILE=/explicit", "AWS_SHARED_CREDENTIALS_FILE=" + cfg, "BOTO_CONFIG=" + cfg},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChildEnv(tt.parent, cfg, tt.set)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ChildEnv =\n  %q\nwant\n  %q", got, tt.want)
			}
			assertOneEntryPerKey(t, got)
		})
	}
}

func TestChildEnvWithRealEnvironment(t *testing.T) {
	t.Setenv("AWS_PROFILE", "prod")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "parent-secret")
	got := ChildEnv(os.Environ(), "/e", map[string]string{"AWS_REGION": "eu-west-1"})
	assertOneEntryPerKey(t, got)
	for _, kv := range got {
		if strings.HasPrefix(kv, "AWS_PROFILE=") || strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			t.Fatalf("%q survived", kv)
		}
	}
	if v, _ := lookupEnv(got, "PATH"); v != os.Getenv("PATH") {
		t.Fatalf("PATH = %q, want %q", v, os.Getenv("PATH"))
	}
	if v, _ := lookupEnv(got, "AWS_REGION"); v != "eu-west-1" {
		t.Fatalf("AWS_REGION = %q", v)
	}
}

func TestChildEnvWithoutConfigPathUsesDevNull(t *testing.T) {
	got := ChildEnv([]string{"AWS_CONFIG_FILE=/home/dev/.aws/config"}, "", nil)
	for _, key := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "BOTO_CONFIG"} {
		if v, _ := lookupEnv(got, key); v != os.DevNull {
			t.Fatalf("%s = %q, want %q", key, v, os.DevNull)
		}
	}
}

func assertOneEntryPerKey(t *testing.T, env []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, kv := range env {
		k := envKey(kv)
		if seen[k] {
			t.Fatalf("key %q appears twice in %q", k, env)
		}
		seen[k] = true
	}
}

func TestWriteEmptyConfig(t *testing.T) {
	path, cleanup, err := WriteEmptyConfig()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 0 || !info.Mode().IsRegular() {
		t.Fatalf("size %d, mode %v: want an empty regular file", info.Size(), info.Mode())
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("file mode %o, want 600", perm)
	}
	dirInfo, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := dirInfo.Mode().Perm(); perm != 0o700 {
		t.Fatalf("dir mode %o, want 700", perm)
	}

	second, cleanupSecond, err := WriteEmptyConfig()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanupSecond()
	if filepath.Dir(second) == filepath.Dir(path) {
		t.Fatalf("two calls share the directory %s", filepath.Dir(path))
	}

	cleanup()
	cleanup() // safe to call twice, as deferred and explicit cleanups often are
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Fatalf("directory still there after cleanup: %v", err)
	}
}
