package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/fakests"
)

const (
	mfaSerial  = "arn:aws:iam::123456789012:mfa/alice"
	mfaRoleARN = "arn:aws:iam::123456789012:role/NeedsMFA"
)

// newMFASandbox is a sandbox and an STS whose device alice accepts code once
// and whose role requires MFA.
func newMFASandbox(t *testing.T, code string) (*sandbox, *fakests.Server) {
	t.Helper()
	return newSandbox(t), fakests.New(t, fakests.WithMFADevice(mfaSerial, code), fakests.WithMFARequired(mfaRoleARN))
}

// writeMFAProfile writes a role profile whose trust policy requires MFA; extra goes into its section.
func writeMFAProfile(sb *sandbox, extra string) {
	sb.writeAWS(
		"[profile prod]\nregion = us-east-1\nrole_arn = "+mfaRoleARN+"\nsource_profile = base\nmfa_serial = "+mfaSerial+"\n"+extra,
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
	)
	sb.writePolicy(allowAllPolicy)
}

// checkMFASession: one GetSessionToken with the code, and every AssumeRole signed by its session.
func checkMFASession(t *testing.T, sts *fakests.Server, code string) {
	t.Helper()
	var session *fakests.Call
	assumes := 0
	for _, c := range sts.Calls() {
		switch c.Action {
		case "GetSessionToken":
			if session != nil {
				t.Fatalf("a second GetSessionToken: one code must serve the whole session")
			}
			session = &c
			if c.Params["SerialNumber"] != mfaSerial || c.Params["TokenCode"] != code || c.ErrorCode != "" {
				t.Fatalf("GetSessionToken serial %q code %q error %q", c.Params["SerialNumber"], c.Params["TokenCode"], c.ErrorCode)
			}
		case "AssumeRole":
			assumes++
			if session == nil || c.AccessKeyID != session.Issued.AccessKeyID || c.ErrorCode != "" {
				t.Fatalf("AssumeRole signed by %q (error %q), want the MFA session", c.AccessKeyID, c.ErrorCode)
			}
		}
	}
	if session == nil || assumes == 0 {
		t.Fatalf("calls %+v: want GetSessionToken then AssumeRole", sts.Calls())
	}
}

func TestCredentialsWithMFATokenFlag(t *testing.T) {
	t.Parallel()
	sb, sts := newMFASandbox(t, "123456")
	writeMFAProfile(sb, "")
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()},
		"credentials", "--profile", "prod", "--mfa-token", "123456", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions)
	if r.code != 0 {
		t.Fatalf("sentinel credentials: %s", r)
	}
	var out credentialProcessOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.SessionToken == "" {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	checkMFASession(t, sts, "123456")
}

func TestExecServerWithMFAProcess(t *testing.T) {
	t.Parallel()
	sb, sts := newMFASandbox(t, "654321")
	writeMFAProfile(sb, "mfa_process = echo 654321\n")
	out := filepath.Join(sb.dir, "child.json")
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL(), childModeEnv: childRetrieve, childOutEnv: out},
		"exec", "--server", "--profile", "prod", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions, "--", childCommand(t))
	if r.code != 0 {
		t.Fatalf("sentinel exec --server: %s", r)
	}
	if got := readChildResult(t, out); got.AccessKeyID == "" {
		t.Fatalf("child got no credentials: %+v", got)
	}
	checkMFASession(t, sts, "654321")
}

func TestExecWithWrongMFATokenShowsSTSAnswer(t *testing.T) {
	t.Parallel()
	sb, sts := newMFASandbox(t, "123456")
	writeMFAProfile(sb, "")
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()},
		"exec", "--profile", "prod", "--mfa-token", "000000", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions, "--", "/bin/true")
	if r.code != 1 || !strings.Contains(r.stderr, "AccessDenied: "+fakests.InvalidMFACodeMessage) {
		t.Fatalf("want exit 1 with STS's AccessDenied, got %s", r)
	}
}

func TestExecWithMFATokenFlag(t *testing.T) {
	t.Parallel()
	sb, sts := newMFASandbox(t, "123456")
	writeMFAProfile(sb, "")
	out := filepath.Join(sb.dir, "child.json")
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL(), childModeEnv: childRetrieve, childOutEnv: out},
		"exec", "--profile", "prod", "--mfa-token", "123456", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions, "--", childCommand(t))
	if r.code != 0 {
		t.Fatalf("sentinel exec: %s", r)
	}
	if got := readChildResult(t, out); got.AccessKeyID == "" {
		t.Fatalf("child got no credentials: %+v", got)
	}
	checkMFASession(t, sts, "123456")
}
