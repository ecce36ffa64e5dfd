package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-gw/sentinel/internal/fakeapi"
	"github.com/sentinel-gw/sentinel/internal/fakeiam"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

const (
	atAWSUserARN  = "arn:aws:iam::123456789012:user/alice"
	revokerKeyID  = "AKIAREVOKEREXAMPLE01"
	revokerSecret = "revoker/secret/EXAMPLEKEY"
	atAWSRole     = "Deployer"
	atAWSRoleARN  = "arn:aws:iam::123456789012:role/" + atAWSRole
	fullRole      = "Crowded"
	fullRoleARN   = "arn:aws:iam::123456789012:role/" + fullRole
)

// atAWSWorld is a sandbox wired to the local STS, IAM and API stand-ins:
// profile prod assumes Deployer, crowded assumes the full role Crowded,
// plain gets GetSessionToken credentials; profile revoker holds the
// revoker's own key, the only one IAM knows.
type atAWSWorld struct {
	sb  *sandbox
	sts *fakests.Server
	iam *fakeiam.Server
	api *fakeapi.Server
	env map[string]string
}

func newAtAWSWorld(t *testing.T) *atAWSWorld {
	t.Helper()
	w := &atAWSWorld{sb: newSandbox(t)}
	w.sts = fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, atAWSUserARN))
	w.iam = fakeiam.New(t, fakeiam.WithKey(revokerKeyID, revokerSecret),
		fakeiam.WithRole(atAWSRole), fakeiam.WithRole(fullRole), fakeiam.WithUser("alice"))
	w.iam.Fill(fullRole, 200) // room for the cut-off (~190 characters), not a session deny (~320)
	w.api = fakeapi.New(t, w.sts, w.iam)
	w.sb.writeAWS(
		"[profile prod]\nrole_arn = "+atAWSRoleARN+"\nsource_profile = base\nregion = us-east-1\n\n"+
			"[profile crowded]\nrole_arn = "+fullRoleARN+"\nsource_profile = base\nregion = us-east-1\n\n"+
			"[profile plain]\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n\n[profile revoker]\nregion = us-east-1\n",
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n\n"+
			"[plain]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n\n"+
			"[revoker]\naws_access_key_id = "+revokerKeyID+"\naws_secret_access_key = "+revokerSecret+"\n",
	)
	w.sb.writePolicy(allowAllPolicy)
	w.env = map[string]string{"AWS_ENDPOINT_URL_STS": w.sts.URL(), "AWS_ENDPOINT_URL_IAM": w.iam.URL()}
	return w
}

// revoke runs server-revoke id --at-aws as the revoker, with extra flags.
func (w *atAWSWorld) revoke(id string, extra ...string) result {
	args := append([]string{"server-revoke", id, "--reason", "key leaked", "--at-aws", "--identity-source", "os", "--aws-profile", "revoker"}, extra...)
	return w.sb.run(w.env, args...)
}

// issued returns the credentials the local STS issued for session id.
func (w *atAWSWorld) issued(t *testing.T, id string) aws.Credentials {
	t.Helper()
	for _, c := range w.sts.Calls() {
		if c.Issued != nil && (strings.Contains(c.Params["SourceIdentity"], id) || c.Action == "GetSessionToken") {
			return aws.Credentials{AccessKeyID: c.Issued.AccessKeyID, SecretAccessKey: c.Issued.SecretAccessKey, SessionToken: c.Issued.SessionToken}
		}
	}
	t.Fatalf("the local STS issued nothing for session %s", id)
	return aws.Credentials{}
}

// call makes one ListTables with a real SDK client; "" is allowed, else
// the error code.
func (w *atAWSWorld) call(t *testing.T, c aws.Credentials) string {
	t.Helper()
	code, err := fakeapi.ListTables(context.Background(), w.api.URL(), c)
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	return code
}

// startSession runs exec --server on profile with a child that fetches
// credentials in a loop until the test arms it and it is refused, and
// returns the running process and its session.
func (w *atAWSWorld) startSession(t *testing.T, profile string, known map[string]bool, arm string) (*process, ports.Session) {
	t.Helper()
	out := filepath.Join(w.sb.dir, profile+"-"+filepath.Base(arm)+".jsonl")
	env := map[string]string{childModeEnv: childLoop, childOutEnv: out, childAfterDenialEnv: "3", childMaxEnv: "60s", childArmEnv: arm}
	for k, v := range w.env {
		env[k] = v
	}
	p := w.sb.start(env, "exec", "--server", "--profile", profile, "--identity-source", "sts",
		"--policy", w.sb.policy, "--log-file", w.sb.decisions, "--", childCommand(t))
	var found ports.Session
	testkit.Eventually(t, 30*time.Second, "a new active session for "+profile+" holding its role handles", func() bool {
		if p.exited() {
			t.Fatalf("sentinel exited early: %s", p.wait(time.Second))
		}
		if r := w.sb.run(nil, "server-sessions", "--profile", profile); r.code != 0 {
			return false
		}
		for _, s := range w.sb.sessions("--profile", profile) {
			if s.Status == ports.SessionActive && !known[s.ID] && len(s.AssumedRoleIDs) > 0 {
				found = s
				return true
			}
		}
		return false
	})
	// The child holds the credentials: it has been served them.
	testkit.Eventually(t, 15*time.Second, "the child served", func() bool {
		for _, r := range testkit.ReadJSONLines[requestRecord](t, out) {
			if r.OK && r.AccessKeyID == w.issued(t, found.ID).AccessKeyID {
				return true
			}
		}
		return false
	})
	return p, found
}

// The walk-through: a child's credentials work until the revoke;
// right after --at-aws AWS denies them; another session of the same user on
// the same role keeps working; the sweep removes the policy once its time
// has passed, and not before.
func TestAtAWSRevokeDeniesTheSessionOnly(t *testing.T) {
	w := newAtAWSWorld(t)
	armA, armB := filepath.Join(w.sb.dir, "arm-a"), filepath.Join(w.sb.dir, "arm-b")
	pa, a := w.startSession(t, "prod", nil, armA)
	pb, b := w.startSession(t, "prod", map[string]bool{a.ID: true}, armB)
	credsA, credsB := w.issued(t, a.ID), w.issued(t, b.ID)
	if code := w.call(t, credsA); code != "" {
		t.Fatalf("session A's credentials before the revoke: %s, want allowed", code)
	}
	if code := w.call(t, credsB); code != "" {
		t.Fatalf("session B's credentials before the revoke: %s, want allowed", code)
	}

	before := time.Now()
	r := w.revoke(a.ID)
	after := time.Now()
	if r.code != 0 {
		t.Fatalf("server-revoke --at-aws: %s", r)
	}
	w.sb.write(armA, "")
	if !strings.Contains(r.stdout, "role "+atAWSRoleARN+": denied at AWS by policy SentinelRevoke-"+a.ID+"-") {
		t.Errorf("server-revoke did not report the role as denied:\n%s", r.stdout)
	}
	if code := w.call(t, credsA); code != "AccessDeniedException" {
		t.Fatalf("session A's credentials right after --at-aws: %q, want AccessDeniedException", code)
	}
	if code := w.call(t, credsB); code != "" {
		t.Fatalf("session B (same user, same role) after A's revoke: %q, want allowed", code)
	}
	policies := w.iam.RolePolicies(atAWSRole)
	if len(policies) != 1 {
		t.Fatalf("role policies after the revoke: %v, want exactly one", policies)
	}
	var name string
	for n := range policies {
		name = n
	}
	m := regexp.MustCompile(`^SentinelRevoke-` + a.ID + `-(\d+)$`).FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("policy name %q", name)
	}
	var until int64
	for _, c := range m[1] {
		until = until*10 + int64(c-'0')
	}
	lo, hi := before.Add(12*time.Hour).Unix(), after.Add(12*time.Hour+6*time.Minute).Unix()
	if until < lo || until > hi {
		t.Errorf("policy kept until %d, want 12h (+ margin) after the revoke: %d..%d", until, lo, hi)
	}

	// B's child goes on; A's server refuses from now on and stops.
	waited := time.Now()
	if r := pa.wait(60 * time.Second); r.code != 0 {
		t.Errorf("session A's exec after the revoke: %s", r)
	}
	t.Logf("session A's exec ended %s after the revoke", time.Since(waited))

	// A sweep now deletes nothing: the time has not come.
	r = w.sb.run(w.env, "revocations", "sweep", "--aws-profile", "revoker")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted 0 deny policies; 1 not yet expired kept") {
		t.Fatalf("sweep before the time: %s", r)
	}
	if len(w.iam.RolePolicies(atAWSRole)) != 1 {
		t.Fatal("the sweep deleted a policy whose time had not come")
	}
	if pb.exited() {
		t.Errorf("session B's exec ended: %s", pb.wait(time.Second))
	}

	// The same command, in this process with a clock past the policy's
	// time: it finds the role from the store's revoked session and deletes
	// the policy; once more, it has nothing to do.
	later := fixedClockAt(time.Unix(until+1, 0))
	for i, want := range []string{"deleted role/" + atAWSRole + "/" + name, "deleted 0 deny policies; 0 not yet expired kept"} {
		out := w.sweepInProcess(t, later)
		if !strings.Contains(out, want) {
			t.Fatalf("sweep %d after the time: %s, want %q", i+1, out, want)
		}
	}
	if left := w.iam.RolePolicies(atAWSRole); len(left) != 0 {
		t.Fatalf("after the sweep the role still has %v", left)
	}

	// A bulk revoke (--user) with --at-aws denies each session it ended.
	r = w.sb.run(w.env, "server-revoke", "--user", "alice", "--reason", "incident", "--at-aws", "--identity-source", "os", "--aws-profile", "revoker")
	if r.code != 0 || !strings.Contains(r.stdout, "session "+b.ID+": role "+atAWSRoleARN+": denied at AWS") {
		t.Fatalf("server-revoke --user alice --at-aws: %s", r)
	}
	if code := w.call(t, credsB); code != "AccessDeniedException" {
		t.Fatalf("session B after the bulk revoke at AWS: %q", code)
	}
}

// execOnce runs exec --server on profile with a child that fetches
// credentials once, and returns the session's id (ended when it returns).
func (w *atAWSWorld) execOnce(t *testing.T, profile string) string {
	t.Helper()
	env := map[string]string{childModeEnv: childRetrieve, childOutEnv: filepath.Join(w.sb.dir, "child.json")}
	for k, v := range w.env {
		env[k] = v
	}
	r := w.sb.run(env, "exec", "--server", "--profile", profile, "--identity-source", "sts",
		"--policy", w.sb.policy, "--log-file", w.sb.decisions, "--", childCommand(t))
	if r.code != 0 {
		t.Fatalf("exec: %s", r)
	}
	return sessionFromStderr(t, r.stderr)
}

type fixedClockAt time.Time

func (c fixedClockAt) Now() time.Time { return time.Time(c) }

// sweepInProcess runs "revocations sweep" through run() with clock, the
// sandbox's environment, and the revoker's AWS files.
func (w *atAWSWorld) sweepInProcess(t *testing.T, clock ports.Clock) string {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", w.sb.awsConfig)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", w.sb.awsCredentials)
	t.Setenv("AWS_ENDPOINT_URL_IAM", w.iam.URL())
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Clock: clock,
		Getenv: func(k string) string { return w.sb.env[k] }}
	if code := run([]string{"revocations", "sweep", "--aws-profile", "revoker"}, env); code != 0 {
		t.Fatalf("revocations sweep exited %d: %s%s", code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// A role whose inline policies are full: without --fallback-all-sessions
// the command says so and exits non-zero, writing nothing; with it, the
// whole-role cut-off denies the credentials, and the command says that it
// cuts every session of the role.
func TestAtAWSFullRole(t *testing.T) {
	t.Parallel()
	w := newAtAWSWorld(t)
	id := w.execOnce(t, "crowded")
	creds := w.issued(t, id)
	if code := w.call(t, creds); code != "" {
		t.Fatalf("before the revoke: %q", code)
	}

	r := w.revoke(id)
	if r.code != exitError || !strings.Contains(r.stdout, "NOT denied at AWS") || !strings.Contains(r.stdout, "--fallback-all-sessions") {
		t.Fatalf("full role without --fallback-all-sessions: %s; want exit 1 naming --fallback-all-sessions", r)
	}
	if got := w.iam.RolePolicies(fullRole); len(got) != 1 {
		t.Fatalf("the full role holds %d policies, want only its filler", len(got))
	}
	if code := w.call(t, creds); code != "" {
		t.Fatalf("nothing was denied, yet the credentials got %q", code)
	}

	time.Sleep(1100 * time.Millisecond) // the cut-off is to the second
	r = w.revoke(id, "--fallback-all-sessions")
	if r.code != 0 || !strings.Contains(r.stdout, "denies EVERY session of the role issued before now") {
		t.Fatalf("with --fallback-all-sessions: %s", r)
	}
	if code := w.call(t, creds); code != "AccessDeniedException" {
		t.Fatalf("after the whole-role cut-off: %q, want AccessDeniedException", code)
	}
}

// GetSessionToken credentials carry no per-session handle: --at-aws says
// so and exits non-zero; with --all-user-sessions it writes the user-level
// cut-off and says it cuts the user's other temporary credentials too.
func TestAtAWSGetSessionToken(t *testing.T) {
	t.Parallel()
	w := newAtAWSWorld(t)
	id := w.execOnce(t, "plain")
	creds := w.issued(t, id)
	if s, _ := w.sts.Session(creds.AccessKeyID); s.Action != "GetSessionToken" {
		t.Fatalf("profile plain was served %s credentials; the test needs GetSessionToken", s.Action)
	}

	r := w.revoke(id)
	if r.code != exitError || !strings.Contains(r.stdout, "no per-session handle") || !strings.Contains(r.stdout, "--all-user-sessions") {
		t.Fatalf("GetSessionToken session without --all-user-sessions: %s", r)
	}
	if len(w.iam.UserPolicies("alice")) != 0 {
		t.Fatal("a user policy was written without --all-user-sessions")
	}
	time.Sleep(1100 * time.Millisecond)
	r = w.revoke(id, "--all-user-sessions")
	if r.code != 0 || !strings.Contains(r.stdout, "IAM user alice: policy SentinelRevoke-"+id) ||
		!strings.Contains(r.stdout, "EVERY temporary credential of the user") || !strings.Contains(r.stdout, "sentinel revocations sweep --iam-user alice") {
		t.Fatalf("with --all-user-sessions: %s", r)
	}
	if code := w.call(t, creds); code != "AccessDeniedException" {
		t.Fatalf("after the user cut-off: %q, want AccessDeniedException", code)
	}
}

// The policy's revoke_at_aws: true makes a plain server-revoke deny at AWS;
// without it (or --at-aws) nothing is written at AWS; the fallback flags
// alone are a usage error.
func TestAtAWSPolicyDefault(t *testing.T) {
	t.Parallel()
	w := newAtAWSWorld(t)
	id := w.execOnce(t, "prod")
	revoke := []string{"server-revoke", id, "--reason", "x", "--identity-source", "os", "--aws-profile", "revoker", "--policy", w.sb.policy}

	if r := w.sb.run(w.env, append(revoke, "--fallback-all-sessions")...); r.code != exitUsage || !strings.Contains(r.stderr, "only apply with --at-aws") {
		t.Fatalf("--fallback-all-sessions alone: %s; want exit 2", r)
	}
	r := w.sb.run(w.env, revoke...)
	if r.code != exitError || strings.Contains(r.stdout, "denied at AWS") {
		t.Fatalf("no revoke_at_aws, an ended session: %s; want the store's refusal and nothing at AWS", r)
	}
	if len(w.iam.RolePolicies(atAWSRole)) != 0 {
		t.Fatal("a policy was written without --at-aws or revoke_at_aws")
	}

	w.sb.writePolicy(allowAllPolicy + "revoke_at_aws: true\n")
	r = w.sb.run(w.env, revoke...)
	if r.code != 0 || !strings.Contains(r.stdout, "denied at AWS by policy SentinelRevoke-"+id) {
		t.Fatalf("revoke_at_aws: true: %s; want the role denied", r)
	}
	if code := w.call(t, w.issued(t, id)); code != "AccessDeniedException" {
		t.Fatalf("after the default revoke at AWS: %q", code)
	}

	w.sb.writePolicy("version: [\n")
	r = w.sb.run(w.env, revoke...)
	if r.code != exitError || !strings.Contains(r.stderr, "revoke_at_aws is unknown") {
		t.Fatalf("an unreadable policy: %s; want exit 1 saying the default is unknown", r)
	}
}
