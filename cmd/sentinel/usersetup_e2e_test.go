package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// Debian's AWS CLI v2 (apt-get install awscli); another aws on PATH may be v1.
const debianAWS = "/usr/bin/aws"

// corpCA writes a self-signed CA certificate, as a corporate ca_bundle is
// (the parent's SDK loads the bundle, so it must be a real PEM).
func corpCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "corp test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setupBotoChild prints what boto3 sees: where its credentials came from and
// the profile's non-credential settings.
const setupBotoChild = `import json, sys, boto3
s = boto3.Session()
c = s.get_credentials()
b = s._session
cfg = b.get_scoped_config()
json.dump({
    "method": c.method if c else None,
    "access_key": c.get_frozen_credentials().access_key if c else None,
    "profile": s.profile_name,
    "ca_bundle": b.get_config_variable("ca_bundle"),
    "endpoint_url": cfg.get("endpoint_url"),
    "retry_mode": cfg.get("retry_mode"),
    "s3": cfg.get("s3"),
}, sys.stdout)
`

// setupShellChild runs as sentinel's child: it records its environment and
// AWS files, then asks boto3 and (when installed) the AWS CLI.
const setupShellChild = `set -e
out=$1
env | grep -E '^(SENTINEL_PROFILE|SENTINEL_SESSION_ID|AWS_PROFILE|AWS_CONFIG_FILE|AWS_SHARED_CREDENTIALS_FILE|BOTO_CONFIG)=' | sort > "$out/env"
cat "$AWS_CONFIG_FILE" > "$out/config"
cat "$AWS_SHARED_CREDENTIALS_FILE" "$BOTO_CONFIG" > "$out/empty"
/usr/bin/python3 -c "$BOTO_SCRIPT" > "$out/boto.json"
if [ -x /usr/bin/aws ]; then
  /usr/bin/aws configure export-credentials --format process > "$out/cli-creds.json"
  /usr/bin/aws configure get ca_bundle > "$out/cli-ca"
  /usr/bin/aws configure get endpoint_url > "$out/cli-endpoint"
fi
`

// plantedProcessKey is what the credential_process in the user's config
// prints: a child that ran it would bypass the server.
const plantedProcessKey = "AKIAPLANTEDPROCESS01"

// A child of exec --server started with AWS_PROFILE (no --profile) keeps the
// user's AWS settings for the served profile (ca_bundle, endpoint_url,
// retry_mode, s3) in its AWS CLI and boto3, gets none of the config's
// credential sources, and still takes its credentials from the server. It
// also sees SENTINEL_PROFILE and the tracked SENTINEL_SESSION_ID.
func TestExecChildKeepsUserAWSConfigWithoutCredentials(t *testing.T) {
	t.Parallel()
	if err := exec.Command(debianPython, "-c", "import boto3").Run(); err != nil {
		testenv.Need(t, "%s cannot import boto3 (%v): install python3-boto3 (scripts/provision.sh does)", debianPython, err)
	}
	_, cliErr := os.Stat(debianAWS)
	if cliErr != nil && os.Getenv("CI") != "" {
		t.Fatalf("%s: %v (scripts/provision.sh installs awscli)", debianAWS, cliErr)
	}
	sb := newSandbox(t)
	ca := filepath.Join(sb.dir, "corp-ca.pem")
	corpCA(t, ca)
	process := filepath.Join(sb.dir, "planted-process.sh")
	sb.write(process, `printf '{"Version":1,"AccessKeyId":"`+plantedProcessKey+`","SecretAccessKey":"planted"}'`)
	sb.writeAWS(`# the platform team's file
[default]
region = eu-west-1
aws_access_key_id = AKIAPLANTEDCONFIG001
aws_secret_access_key = planted

[profile dev]
region = us-east-1
ca_bundle = `+ca+`
endpoint_url = http://127.0.0.1:9/corp-proxy
retry_mode = adaptive
credential_process = /bin/sh `+process+`
s3 =
  addressing_style = path

[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
sso_region = us-east-1
`, "[dev]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n")
	sb.writePolicy(allowAllPolicy)
	out := filepath.Join(sb.dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	r := sb.run(map[string]string{"AWS_PROFILE": "dev", "BOTO_SCRIPT": setupBotoChild},
		append(append([]string{"exec", "--server"}, sb.offlineFlags()...), "--", "/bin/sh", "-c", setupShellChild, "sh", out)...)
	if r.code != 0 {
		t.Fatalf("exec --server (profile from AWS_PROFILE): %s", r)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("the child wrote no %s: %v", name, err)
		}
		return string(b)
	}

	sessions := sb.sessions("--status", "all", "--output", "json")
	if len(sessions) != 1 {
		t.Fatalf("sessions: %+v, want the one exec tracked", sessions)
	}
	env := read("env")
	for _, want := range []string{"SENTINEL_PROFILE=dev\n", "SENTINEL_SESSION_ID=" + sessions[0].ID + "\n", "AWS_PROFILE=dev\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("child env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "AWS_CONFIG_FILE="+sb.awsConfig) {
		t.Errorf("the child reads the user's own config:\n%s", env)
	}
	if got := read("empty"); got != "" {
		t.Errorf("the child's credentials file and BOTO_CONFIG hold %q, want both empty", got)
	}
	config := read("config")
	for _, gone := range []string{"AKIAPLANTEDCONFIG001", "credential_process", "sso-session", "sso_start_url"} {
		if strings.Contains(config, gone) {
			t.Errorf("the child's config still has %q:\n%s", gone, config)
		}
	}
	if !strings.Contains(config, "# the platform team's file") {
		t.Errorf("the child's config lost the user's comment:\n%s", config)
	}

	var boto struct {
		Method      string            `json:"method"`
		AccessKey   string            `json:"access_key"`
		Profile     string            `json:"profile"`
		CABundle    string            `json:"ca_bundle"`
		EndpointURL string            `json:"endpoint_url"`
		RetryMode   string            `json:"retry_mode"`
		S3          map[string]string `json:"s3"`
	}
	if err := json.Unmarshal([]byte(read("boto.json")), &boto); err != nil {
		t.Fatal(err)
	}
	if boto.Method != "container-role" || boto.AccessKey != exampleKeyID {
		t.Errorf("boto3 credentials: method %q key %q, want container-role with the server's %s", boto.Method, boto.AccessKey, exampleKeyID)
	}
	if boto.Profile != "dev" || boto.CABundle != ca || boto.EndpointURL != "http://127.0.0.1:9/corp-proxy" ||
		boto.RetryMode != "adaptive" || boto.S3["addressing_style"] != "path" {
		t.Errorf("boto3 settings: %+v; want profile dev with its ca_bundle %s, endpoint_url, retry_mode and s3", boto, ca)
	}

	if cliErr != nil {
		t.Logf("AWS CLI part skipped: %v", cliErr)
		return
	}
	var cli struct{ AccessKeyID string }
	if err := json.Unmarshal([]byte(read("cli-creds.json")), &cli); err != nil {
		t.Fatal(err)
	}
	if cli.AccessKeyID != exampleKeyID {
		t.Errorf("AWS CLI credentials: key %q, want the server's %s", cli.AccessKeyID, exampleKeyID)
	}
	if got := strings.TrimSpace(read("cli-ca")); got != ca {
		t.Errorf("aws configure get ca_bundle = %q, want %s", got, ca)
	}
	if got := strings.TrimSpace(read("cli-endpoint")); got != "http://127.0.0.1:9/corp-proxy" {
		t.Errorf("aws configure get endpoint_url = %q, want the profile's", got)
	}
}

// --profile defaults to AWS_PROFILE for every command that serves or asks
// for a profile; with neither, each is a usage error that says what to do.
func TestProfileFromAWSProfile(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)

	r := sb.run(map[string]string{"AWS_PROFILE": "dev"}, append([]string{"credentials"}, sb.offlineFlags()...)...)
	if r.code != 0 || !strings.Contains(r.stdout, exampleKeyID) {
		t.Errorf("credentials with AWS_PROFILE=dev and no --profile: %s", r)
	}
	r = sb.run(map[string]string{"AWS_PROFILE": "dev"}, append([]string{"exec"}, append(sb.offlineFlags(), "--", "/bin/sh", "-c", `test "$SENTINEL_PROFILE" = dev`)...)...)
	if r.code != 0 {
		t.Errorf("exec with AWS_PROFILE=dev and no --profile (child checks SENTINEL_PROFILE=dev): %s", r)
	}

	for _, args := range [][]string{
		append([]string{"exec", "--server"}, append(sb.offlineFlags(), "--", "true")...),
		append([]string{"credentials"}, sb.offlineFlags()...),
		{"request", "--justification", "investigating ticket 99", "--identity-source", "os", "--policy", sb.policy},
		{"breakglass", "--reason-code", "incident", "--justification", "production is down, ticket 99", "--identity-source", "os", "--policy", sb.policy},
	} {
		r := sb.run(nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "no profile: pass --profile NAME or set AWS_PROFILE") {
			t.Errorf("sentinel %s without --profile or AWS_PROFILE: %s\nwant exit 2 naming both", args[0], r)
		}
	}
}

// --debug and SENTINEL_LOG_LEVEL turn on debug diagnostics;
// --log-format json and SENTINEL_LOG_FORMAT make them JSON lines.
func TestLoggingFlags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	execTrue := append(append([]string{"exec", "--profile", "dev"}, sb.offlineFlags()...), "--", "true")
	const textDebug = `level=DEBUG msg="child started"`
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
		want  func(stderr string) bool
	}{
		{"default warn", nil, nil, func(s string) bool { return !strings.Contains(s, "child started") }},
		{"--debug", nil, []string{"--debug"}, func(s string) bool { return strings.Contains(s, textDebug) }},
		{"--debug wins over --log-level", nil, []string{"--debug", "--log-level", "error"}, func(s string) bool { return strings.Contains(s, textDebug) }},
		{"SENTINEL_LOG_LEVEL", map[string]string{"SENTINEL_LOG_LEVEL": "debug"}, nil, func(s string) bool { return strings.Contains(s, textDebug) }},
		{"--log-format json", nil, []string{"--debug", "--log-format", "json"}, jsonDebugLine},
		{"SENTINEL_LOG_FORMAT", map[string]string{"SENTINEL_LOG_FORMAT": "json", "SENTINEL_LOG_LEVEL": "debug"}, nil, jsonDebugLine},
	}
	for _, tt := range tests {
		r := sb.run(tt.env, append(tt.flags, execTrue...)...)
		if r.code != 0 || !tt.want(r.stderr) {
			t.Errorf("%s: %s", tt.name, r)
		}
	}
	if r := sb.run(map[string]string{"SENTINEL_LOG_FORMAT": "xml"}, execTrue...); r.code != exitUsage {
		t.Errorf("SENTINEL_LOG_FORMAT=xml: %s\nwant exit 2", r)
	}
}

// jsonDebugLine reports whether stderr has the child-started debug record as
// a JSON object on a line of its own.
func jsonDebugLine(stderr string) bool {
	for _, line := range strings.Split(stderr, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "DEBUG" && rec["msg"] == "child started" {
			return true
		}
	}
	return false
}

// request --wait blocks until the request is decided, and its exit code
// says how it ended: approved 0, denied 3, cancelled 4, --timeout 6.
func TestRequestWait(t *testing.T) {
	t.Parallel()
	w := newOverrideWorld(t, refusalPolicy, nil)
	ask := []string{"request", "--profile", "prod", "--justification", "investigating ticket 99", "--wait"}
	tests := []struct {
		name   string
		decide func(id string)
		code   int
		stdout string
	}{
		{"approved", func(id string) { w.mustRunAs(bob, "approve", id, "--comment", "go ahead") }, exitOK, " approved by bob: alice may use prod until "},
		{"denied", func(id string) { w.mustRunAs(carol, "deny", id) }, exitDenied, " denied by carol"},
		{"cancelled", func(id string) { w.mustRunAs(alice, "request-cancel", id) }, exitCancelled, " cancelled by alice"},
	}
	for _, tt := range tests {
		p := w.start(w.env(alice, nil), ask...)
		id := waitCreated(t, p)
		if p.exited() {
			t.Fatalf("%s: request --wait returned before any decision: %s", tt.name, p.wait(0))
		}
		tt.decide(id)
		r := p.wait(commandTimeout)
		if r.code != tt.code || !strings.Contains(r.stdout, "request "+id+tt.stdout) {
			t.Errorf("%s: request --wait: %s\nwant exit %d and %q", tt.name, r, tt.code, tt.stdout)
		}
		if !strings.Contains(r.stderr, "waiting for a decision on request "+id[:shortIDLen]) {
			t.Errorf("%s: no plain waiting line on a non-terminal stderr:\n%s", tt.name, r.stderr)
		}
	}

	r := w.runAs(alice, append(ask, "--timeout", "1s")...)
	id := idFrom(t, r)
	if r.code != exitTimedOut || !strings.Contains(r.stderr, "still pending after --timeout 1s") {
		t.Errorf("request --wait --timeout 1s with nobody deciding: %s\nwant exit 6", r)
	}
	if got := w.request(id); got.Status != "pending" {
		t.Errorf("after the timeout the request is %s, want still pending", got.Status)
	}
	if r := w.runAs(alice, "request", "--profile", "prod", "--justification", "investigating ticket 99", "--timeout", "1s"); r.code != exitUsage {
		t.Errorf("--timeout without --wait: %s\nwant exit 2", r)
	}
}

// On a terminal, request --wait shows the time waited on one line it
// rewrites, instead of the plain waiting line.
func TestRequestWaitOnTerminal(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("script"); err != nil {
		testenv.Need(t, "script (util-linux) is needed to give sentinel a terminal")
	}
	w := newOverrideWorld(t, refusalPolicy, nil)
	// script runs sentinel with a pseudo-terminal as stdin, stdout and stderr.
	line := e2e.Sentinel(t) + " request --profile prod --justification 'investigating ticket 99' --wait --timeout 2500ms"
	cmd := exec.Command("script", "--quiet", "--return", "--command", line, "/dev/null")
	cmd.Env = w.environ(w.env(alice, nil))
	cmd.Dir = w.dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitTimedOut {
		t.Fatalf("request --wait --timeout on a terminal: %v, want exit 6\n%q", err, out)
	}
	m := regexp.MustCompile(`request ([0-9a-f]{12})[0-9a-f]{20} created`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no request id in %q", out)
	}
	if want := "\rsentinel: waiting for a decision on request " + string(m[1]) + ": 1s"; !strings.Contains(string(out), want) {
		t.Errorf("no elapsed-time line %q on the terminal:\n%q", want, out)
	}
	if strings.Contains(string(out), "(pending until") {
		t.Errorf("the plain waiting line was printed on a terminal:\n%q", out)
	}
}

// waitCreated polls a running request --wait until it prints the new id.
func waitCreated(t *testing.T, p *process) string {
	t.Helper()
	deadline := time.Now().Add(commandTimeout)
	for time.Now().Before(deadline) {
		if m := createdID.FindStringSubmatch(p.stdout.String()); m != nil {
			return m[1]
		}
		if p.exited() {
			break
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("request --wait printed no id: %s", p.wait(commandTimeout))
	return ""
}
