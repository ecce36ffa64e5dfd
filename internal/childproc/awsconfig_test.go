package childproc

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/ini.v1"
)

// userConfig is an AWS config as people have them: settings the child needs,
// credential sources it must not see, comments, keys nobody here knows.
const userConfig = `# managed by the platform team
[default]
region = eu-west-1
output = json
cli_pager =
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
AWS_Secret_Access_Key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

; the corporate proxy re-signs TLS
[profile prod]
region = us-east-1
ca_bundle = /etc/corp/ca.pem
endpoint_url = https://aws-proxy.corp.example:8443
retry_mode = adaptive
max_attempts = 7
services = corp-endpoints
s3 =
  addressing_style = path
  max_concurrent_requests = 20
  aws_secret_access_key = nested-secret
  aws_session_token: nested-token
role_arn = arn:aws:iam::123456789012:role/Admin
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice
role_session_name = alice
team_setting = kept as is
credential_source: Environment

[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region = ap-southeast-2

[profile tools]
credential_process = /usr/local/bin/get-creds --json
web_identity_token_file = /var/run/token
login_session = arn:aws:iam::123456789012:user/alice

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[services corp-endpoints]
s3 =
  endpoint_url = http://localhost:9000
sts =
  endpoint_url = https://sts.corp.example
`

func TestFilterConfigKeepsSettingsAndDropsCredentials(t *testing.T) {
	out, sections, err := FilterConfig([]byte(userConfig))
	if err != nil {
		t.Fatalf("FilterConfig: %v", err)
	}
	got := parseForTest(t, out)
	want := map[string]map[string]string{
		"default": {"region": "eu-west-1", "output": "json", "cli_pager": ""},
		"profile prod": {
			"region": "us-east-1", "ca_bundle": "/etc/corp/ca.pem", "endpoint_url": "https://aws-proxy.corp.example:8443",
			"retry_mode": "adaptive", "max_attempts": "7", "services": "corp-endpoints", "s3": "",
			"role_session_name": "alice", "team_setting": "kept as is",
		},
		"profile sso":             {"region": "ap-southeast-2"},
		"profile tools":           {},
		"services corp-endpoints": {"s3": "", "sts": ""},
	}
	for name, keys := range want {
		if !maps2Equal(got[name], keys) {
			t.Errorf("[%s] = %v, want %v", name, got[name], keys)
		}
	}
	if _, ok := got["sso-session corp"]; ok {
		t.Errorf("[sso-session corp] was kept; it holds only SSO login settings")
	}
	wantSections := []string{"default", "profile prod", "profile sso", "profile tools", "services corp-endpoints"}
	if !slices.Equal(sections, wantSections) {
		t.Errorf("sections = %q, want %q", sections, wantSections)
	}
	text := string(out)
	for _, keep := range []string{
		"# managed by the platform team", "; the corporate proxy re-signs TLS",
		"  addressing_style = path", "  max_concurrent_requests = 20",
		"  endpoint_url = http://localhost:9000", "  endpoint_url = https://sts.corp.example",
	} {
		if !strings.Contains(text, keep) {
			t.Errorf("filtered config lost %q:\n%s", keep, text)
		}
	}
	for _, gone := range []string{"AKIA", "EXAMPLEKEY", "nested-secret", "nested-token", "role/Admin", "get-creds", "awsapps", "/var/run/token", "user/alice", "Environment"} {
		if strings.Contains(text, gone) {
			t.Errorf("filtered config still holds %q:\n%s", gone, text)
		}
	}
}

func TestFilterConfigRefusesCredentialLinesHiddenInQuotes(t *testing.T) {
	// ini.v1 reads a """ value across lines, but the SDKs read the inner
	// line as a key of its own: the filter must not hand it on.
	src := "[default]\nregion = \"\"\"\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\"\"\"\n"
	_, _, err := FilterConfig([]byte(src))
	if !errors.Is(err, errCredentialLine) {
		t.Fatalf("FilterConfig = %v, want errCredentialLine", err)
	}
}

func TestFilterConfigRefusesCredentialLinesAfterALoneCR(t *testing.T) {
	// ini.v1 reads one line here; Python (botocore, the AWS CLI) reads a
	// lone CR as a line break, so it would find the key.
	src := "[default]\nregion = us-east-1\raws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	_, _, err := FilterConfig([]byte(src))
	if !errors.Is(err, errCredentialLine) {
		t.Fatalf("FilterConfig = %v, want errCredentialLine", err)
	}
}

func TestFilterConfigEmptyAndMissing(t *testing.T) {
	out, sections, err := FilterConfig(nil)
	if err != nil || len(out) != 0 || len(sections) != 0 {
		t.Fatalf("FilterConfig(nil) = %q, %q, %v; want empty", out, sections, err)
	}
	dir := t.TempDir()
	c, err := WriteConfigCopy(dir, filepath.Join(dir, "no-such-config"))
	if err != nil {
		t.Fatalf("WriteConfigCopy of a missing config: %v", err)
	}
	if b, err := os.ReadFile(c.Path); err != nil || len(b) != 0 {
		t.Fatalf("copy of a missing config = %q, %v; want an empty file", b, err)
	}
}

func TestWriteConfigCopyIsPrivate(t *testing.T) {
	empty, cleanup, err := WriteEmptyConfig()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(src, []byte(userConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(empty)
	c, err := WriteConfigCopy(dir, src)
	if err != nil {
		t.Fatalf("WriteConfigCopy: %v", err)
	}
	if filepath.Dir(c.Path) != dir {
		t.Errorf("copy %s is outside the private dir %s", c.Path, dir)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, c.Path: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if !c.HasProfile("prod") || !c.HasProfile("default") || c.HasProfile("corp") || c.HasProfile("base") {
		t.Errorf("HasProfile: prod %v default %v corp %v base %v; want true true false false",
			c.HasProfile("prod"), c.HasProfile("default"), c.HasProfile("corp"), c.HasProfile("base"))
	}
	if b, err := os.ReadFile(empty); err != nil || len(b) != 0 {
		t.Errorf("the empty config now holds %q (%v)", b, err)
	}
	cleanup()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup left %s: %v", dir, err)
	}
}

func TestWriteConfigCopyUnparsable(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(src, []byte("[default\nregion = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteConfigCopy(dir, src); err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("WriteConfigCopy of a broken config = %v, want an error naming %s", err, src)
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed copy left a file behind: %v", err)
	}
}

// credentialLine matches a line any AWS config parser could take for a
// credential key: written independently of isCredentialKey, so the fuzz
// test does not check the filter against itself.
var credentialLine = regexp.MustCompile(`(?im)^[ \t"'` + "`" + `]*(aws_access_key_id|aws_secret_access_key|aws_session_token|aws_security_token|credential_process|role_arn|source_profile|credential_source|mfa_serial|web_identity_token_file|login_session|sso_[^=:\n]*)[ \t"'` + "`" + `]*[=:]`)

func FuzzFilterConfig(f *testing.F) {
	f.Add([]byte(userConfig))
	f.Add([]byte("[default]\nregion = \"\"\"\naws_access_key_id = x\n\"\"\"\n"))
	f.Add([]byte("[default]\nregion = a\\\naws_access_key_id = x\n"))
	f.Add([]byte("[default]\ns3 =\n  AWS_SECRET_ACCESS_KEY=x\n  addressing_style=path\n"))
	f.Add([]byte("aws_access_key_id = top\n[default]\n`sso_start_url` = x\n"))
	f.Add([]byte("[profile a]\nregion=us-east-1\nregion=eu-west-1\n  role_arn: x\n"))
	f.Add([]byte("[default]\nregion = a\rcredential_process = x\r\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		out, sections, err := FilterConfig(src)
		if err != nil {
			return // the child then gets the empty config
		}
		// Python ends lines at a lone CR (and more) too.
		asLines := strings.Map(func(r rune) rune {
			if isLineBreak(r) {
				return '\n'
			}
			return r
		}, string(out))
		if m := credentialLine.FindString(asLines); m != "" {
			t.Fatalf("credential line %q in the filtered config:\n%s", m, out)
		}
		in, err := ini.LoadSources(loadOptions, src)
		if err != nil {
			t.Fatalf("FilterConfig accepted what ini.v1 refuses: %v", err)
		}
		got := parseForTest(t, out)
		for _, sec := range in.Sections() {
			if isCredentialSection(sec.Name()) {
				continue
			}
			for _, key := range sec.Keys() {
				if isCredentialKey(key.Name()) {
					continue
				}
				if _, ok := got[sec.Name()][key.Name()]; !ok {
					t.Fatalf("[%s] %s was dropped:\nin:\n%s\nout:\n%s", sec.Name(), key.Name(), src, out)
				}
			}
		}
		// Comments may be reformatted; the settings must not change.
		again, sections2, err := FilterConfig(out)
		if err != nil || !slices.Equal(settingsOf(t, again), settingsOf(t, out)) || !slices.Equal(sections, sections2) {
			t.Fatalf("filtering twice changed the config (err %v):\n%s\nthen:\n%s", err, out, again)
		}
	})
}

// parseForTest reads a filtered config into section -> key -> value.
func parseForTest(t *testing.T, cfg []byte) map[string]map[string]string {
	t.Helper()
	f, err := ini.LoadSources(loadOptions, cfg)
	if err != nil {
		t.Fatalf("the filtered config does not parse: %v\n%s", err, cfg)
	}
	got := map[string]map[string]string{}
	for _, sec := range f.Sections() {
		got[sec.Name()] = sec.KeysHash()
	}
	return got
}

func settingsOf(t *testing.T, cfg []byte) []string {
	t.Helper()
	f, err := ini.LoadSources(loadOptions, cfg)
	if err != nil {
		t.Fatalf("the filtered config does not parse: %v\n%s", err, cfg)
	}
	return settings(f)
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Vars points the child at the copy, selects the served profile only when
// the copy has its section (botocore refuses an unknown AWS_PROFILE), and
// names it in SENTINEL_PROFILE; without a copy the empty config stays.
func TestConfigCopyVars(t *testing.T) {
	c := ConfigCopy{Path: "/copy", sections: []string{"default", "profile  prod", "sso-session x", "prod-raw"}}
	tests := []struct {
		copy    ConfigCopy
		profile string
		want    map[string]string
	}{
		{c, "prod", map[string]string{"SENTINEL_PROFILE": "prod", "AWS_CONFIG_FILE": "/copy", "AWS_PROFILE": "prod"}},
		{c, "default", map[string]string{"SENTINEL_PROFILE": "default", "AWS_CONFIG_FILE": "/copy", "AWS_PROFILE": "default"}},
		{c, "prod-raw", map[string]string{"SENTINEL_PROFILE": "prod-raw", "AWS_CONFIG_FILE": "/copy"}},
		{c, "dev", map[string]string{"SENTINEL_PROFILE": "dev", "AWS_CONFIG_FILE": "/copy"}},
		{ConfigCopy{}, "prod", map[string]string{"SENTINEL_PROFILE": "prod"}},
	}
	for _, tt := range tests {
		if got := tt.copy.Vars(tt.profile); !maps2Equal(got, tt.want) {
			t.Errorf("Vars(%q) with sections %q = %v, want %v", tt.profile, tt.copy.sections, got, tt.want)
		}
	}
	// An outer sentinel's names never reach the child; the set ones win.
	env := ChildEnv([]string{"SENTINEL_PROFILE=outer", "SENTINEL_SESSION_ID=outer-session"}, "/empty", c.Vars("prod"))
	for _, kv := range env {
		if strings.Contains(kv, "outer") {
			t.Errorf("child env has the outer sentinel's %s", kv)
		}
	}
	if v, _ := lookupEnv(env, "BOTO_CONFIG"); v != "/empty" {
		t.Errorf("BOTO_CONFIG = %q, want the empty file", v)
	}
	if v, _ := lookupEnv(env, "AWS_SHARED_CREDENTIALS_FILE"); v != "/empty" {
		t.Errorf("AWS_SHARED_CREDENTIALS_FILE = %q, want the empty file", v)
	}
}
