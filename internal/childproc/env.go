// Package childproc runs the command that `sentinel exec` wraps (terraform,
// a shell, ...) with an environment that can only reach AWS through Sentinel,
// forwards signals to it, and reports its exit code the way a shell would.
package childproc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// strippedEnv lists the variables no parent value of may reach the child.
// Each of them would let an AWS SDK find credentials without asking the
// server (so policy and revocation would be bypassed), or would point the SDK
// somewhere else before it got to the server:
//   - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
//     AWS_SECURITY_TOKEN (the legacy name of the session token): static
//     environment credentials come first in every SDK's chain;
//   - AWS_CREDENTIAL_EXPIRATION: the expiry paired with those keys; a stale
//     one would mislabel the credentials set in cli mode;
//   - AWS_PROFILE, AWS_DEFAULT_PROFILE: select a profile whose
//     source_profile, sso_* or credential_process yields its own credentials;
//   - AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI,
//     AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE:
//     an inherited container endpoint (ECS, a parent sentinel) or token; the
//     relative URI even wins over the full one, and a token file wins over
//     the token, so the server's own values are set only after these are gone;
//   - AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN: web-identity AssumeRole
//     (EKS IRSA, CI OIDC) sits before the container provider in the chain;
//   - AWS_CREDENTIAL_FILE: the old EC2 tools' key file, which botocore
//     reads (method ec2-credentials-file) before the container provider;
//   - AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, BOTO_CONFIG: replaced,
//     see ChildEnv.
//   - SENTINEL_PROFILE, SENTINEL_SESSION_ID: an outer sentinel's; exec sets
//     its own (the session id only when it tracks one).
var strippedEnv = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN",
	"AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CREDENTIAL_FILE",
	"BOTO_CONFIG",
	"SENTINEL_PROFILE",
	"SENTINEL_SESSION_ID",
}

// emptiedFiles are the variables ChildEnv points at the empty config. Each
// names a file an SDK reads credentials from when it exists; when unset, the
// SDK falls back to a default path (~/.aws/config, ~/.aws/credentials; for
// BOTO_CONFIG, /etc/boto.cfg and then ~/.boto, read by botocore's boto-config
// provider before the container provider). Set to an empty file, they find
// nothing and the machine-wide and home defaults are never read.
var emptiedFiles = []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "BOTO_CONFIG"}

// ChildEnv builds the child's environment from the parent's (os.Environ()
// form). It drops every variable in strippedEnv, points every variable in
// emptiedFiles at emptyConfigPath (so a default profile in ~/.aws or keys in
// /etc/boto.cfg or ~/.boto cannot bypass the server; os.DevNull when
// emptyConfigPath is empty), then sets every key in set, which wins over both.
//
// The result has exactly one entry per key: for a key the parent lists twice
// the first value is kept, because that is the one getenv (Go's and libc's)
// returned to this process. Parent order is kept; the keys this function sets
// follow, sorted, so the output is deterministic.
func ChildEnv(parent []string, emptyConfigPath string, set map[string]string) []string {
	if emptyConfigPath == "" {
		emptyConfigPath = os.DevNull
	}
	assigned := make(map[string]string, len(emptiedFiles)+len(set))
	for _, k := range emptiedFiles {
		assigned[k] = emptyConfigPath
	}
	for k, v := range set {
		assigned[k] = v
	}

	skip := make(map[string]bool, len(strippedEnv)+len(assigned))
	for _, k := range strippedEnv {
		skip[k] = true
	}
	for k := range assigned {
		skip[k] = true
	}

	out := make([]string, 0, len(parent)+len(assigned))
	seen := make(map[string]bool, len(parent))
	for _, kv := range parent {
		key := envKey(kv)
		if skip[key] || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, kv)
	}

	keys := make([]string, 0, len(assigned))
	for k := range assigned {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+assigned[k])
	}
	return out
}

// envKey returns the name part of a KEY=VALUE entry (the whole entry when it
// has no '=', so such an entry is still deduplicated rather than lost).
func envKey(kv string) string {
	if i := strings.IndexByte(kv, '='); i >= 0 {
		return kv[:i]
	}
	return kv
}

// lookupEnv returns the first value of key in env, as getenv would.
func lookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// WriteEmptyConfig creates an empty file, mode 0600, in a new private temp dir
// (0700) and returns its path and a cleanup func that removes both. The
// directory is private so no other local user can swap in a config whose
// credential_process the child's SDK would run.
func WriteEmptyConfig() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "sentinel-exec-")
	if err != nil {
		return "", nil, fmt.Errorf("create private dir for the empty AWS config: %w", err)
	}
	// MkdirTemp creates the directory 0700 (a umask can only narrow that).
	cleanup = func() { _ = os.RemoveAll(dir) }
	path = filepath.Join(dir, "empty-config")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("create empty AWS config: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("create empty AWS config: %w", err)
	}
	return path, cleanup, nil
}
