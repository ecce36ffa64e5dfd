package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// Team mode end to end: a strict local STS that verifies every signature, a
// broker (sentinel serve) over loopback HTTPS with a certificate the test
// makes, and users who hold nothing but their own AWS keys: no store, no
// policy file, no role.

// teamUser is one AWS identity the local STS knows.
type teamUser struct {
	name, keyID, secret, arn string
}

var (
	teamAlice  = teamUser{"alice", "AKIATEAMALICE0000001", "alice/secret/key/0000000000000000000000", "arn:aws:iam::123456789012:user/alice"}
	teamBob    = teamUser{"bob", "AKIATEAMBOB000000001", "bob/secret/key/00000000000000000000000", "arn:aws:iam::123456789012:user/bob"}
	teamCarol  = teamUser{"carol", "AKIATEAMCAROL0000001", "carol/secret/key/0000000000000000000000", "arn:aws:iam::123456789012:user/carol"}
	teamBroker = teamUser{"sentinel-broker", "AKIATEAMBROKER000001", "broker/secret/key/000000000000000000000", "arn:aws:iam::123456789012:user/sentinel-broker"}
)

// teamRole is the role the broker's profiles assume.
const teamRole = "arn:aws:iam::123456789012:role/Deployer"

// teamPolicy: carol is an admin, prod needs bob's approval, dev is open.
const teamPolicy = `version: "1"
admins: [carol]
rules:
  - name: prod-needs-approval
    effect: require_approval
    conditions:
      profiles: [prod]
  - name: dev-open
    effect: allow
    conditions:
      profiles: [dev]
approvals:
  - name: prod-approvals
    profiles: [prod]
    approvers: [bob]
`

// teamWorld is the STS and the TLS certificate every broker of a test shares.
type teamWorld struct {
	t   *testing.T
	sts *fakests.Server
	tls testkit.TLSFiles
	dir string
	// brokerEnv is added to every broker's environment.
	brokerEnv map[string]string
}

func newTeamWorld(t *testing.T) *teamWorld {
	t.Helper()
	var opts []fakests.Option
	for _, u := range []teamUser{teamAlice, teamBob, teamCarol, teamBroker} {
		opts = append(opts, fakests.WithUser(u.keyID, u.secret, u.arn))
	}
	dir := t.TempDir()
	return &teamWorld{t: t, sts: fakests.New(t, opts...), tls: testkit.ServerCert(t, dir, "127.0.0.1", "localhost"), dir: dir}
}

// teamBrokerProc is one running sentinel serve.
type teamBrokerProc struct {
	sb   *sandbox
	proc *process
	url  string
	log  string
}

var listening = regexp.MustCompile(`broker listening on (https?://\S+)`)

// startBroker runs sentinel serve on a free loopback port over HTTPS,
// with its own AWS config (profiles prod and dev assume the role with the
// broker's own keys), on store (a bbolt file of its own when empty).
func (w *teamWorld) startBroker(store, policyYAML string, extra ...string) *teamBrokerProc {
	w.t.Helper()
	sb := newSandbox(w.t)
	sb.writeAWS(
		"[profile prod]\nrole_arn = "+teamRole+"\nsource_profile = base\nregion = us-east-1\n\n"+
			"[profile dev]\nrole_arn = "+teamRole+"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
		"[base]\naws_access_key_id = "+teamBroker.keyID+"\naws_secret_access_key = "+teamBroker.secret+"\n",
	)
	sb.writePolicy(policyYAML)
	if store == "" {
		store = "bolt://" + filepath.Join(sb.dir, "broker.db")
	}
	b := &teamBrokerProc{sb: sb, log: filepath.Join(sb.dir, "decisions.jsonl")}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", w.tls.Cert, "--tls-key", w.tls.Key,
		"--broker-id", "127.0.0.1", "--store", store, "--policy", sb.policy, "--log-file", b.log}, extra...)
	env := map[string]string{"AWS_ENDPOINT_URL_STS": w.sts.URL()}
	for k, v := range w.brokerEnv {
		env[k] = v
	}
	b.proc = sb.start(env, args...)
	testkit.Eventually(w.t, 30*time.Second, "the broker listening", func() bool {
		if b.proc.exited() {
			w.t.Fatalf("sentinel serve exited: %s", b.proc.wait(time.Second))
		}
		m := listening.FindStringSubmatch(b.proc.stderr.String())
		if m != nil {
			b.url = m[1]
		}
		return m != nil
	})
	return b
}

// userSandbox is a user's machine: their own AWS keys in the environment,
// the broker's URL and CA, and nothing else (no store, no policy).
func (w *teamWorld) userSandbox(u teamUser) *sandbox {
	w.t.Helper()
	sb := newSandbox(w.t)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":     u.keyID,
		"AWS_SECRET_ACCESS_KEY": u.secret,
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL_STS":  w.sts.URL(),
		"SENTINEL_BROKER_CA":    w.tls.CA,
	} {
		sb.env[k] = v
	}
	return sb
}

// as runs sentinel as u against broker b.
func (w *teamWorld) as(u teamUser, b *teamBrokerProc, extra map[string]string, args ...string) result {
	w.t.Helper()
	sb := w.userSandbox(u)
	env := map[string]string{"SENTINEL_BROKER": b.url}
	for k, v := range extra {
		env[k] = v
	}
	r := sb.run(env, args...)
	assertNoLocalStore(w.t, sb)
	return r
}

// mustAs is as, failing the test unless the command exits 0.
func (w *teamWorld) mustAs(u teamUser, b *teamBrokerProc, args ...string) result {
	w.t.Helper()
	r := w.as(u, b, nil, args...)
	if r.code != 0 {
		w.t.Fatalf("%s: sentinel %v: %s", u.name, args, r)
	}
	return r
}

// refusedAs runs a command that must exit 1 with every fragment on stderr.
func (w *teamWorld) refusedAs(u teamUser, b *teamBrokerProc, args []string, fragments ...string) {
	w.t.Helper()
	r := w.as(u, b, nil, args...)
	if r.code != exitError {
		w.t.Errorf("%s: sentinel %v: exit %d, want 1 (refused)\n%s", u.name, args, r.code, r)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			w.t.Errorf("%s: sentinel %v: stderr lacks %q:\n%s", u.name, args, f, r.stderr)
		}
	}
}

// sessionsAs lists sessions as u through the broker.
func (w *teamWorld) sessionsAs(u teamUser, b *teamBrokerProc, args ...string) []ports.Session {
	w.t.Helper()
	r := w.mustAs(u, b, append([]string{"server-sessions", "--output", "json"}, args...)...)
	var out []ports.Session
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		w.t.Fatalf("server-sessions output is not JSON: %v\n%s", err, r.stdout)
	}
	return out
}

// startLoopAs runs exec --server through broker b as u, with the looping
// SDK child writing to records; it stops 30 requests after arm exists.
func (w *teamWorld) startLoopAs(u teamUser, b *teamBrokerProc, profile, records, arm string) (*process, string) {
	w.t.Helper()
	sb := w.userSandbox(u)
	p := sb.start(map[string]string{"SENTINEL_BROKER": b.url, childModeEnv: childLoop, childOutEnv: records,
		childAfterDenialEnv: "30", childMaxEnv: "60s", childArmEnv: arm},
		"exec", "--server", "--profile", profile, "--", childCommand(w.t))
	var sid string
	testkit.Eventually(w.t, 30*time.Second, u.name+"'s session id on stderr", func() bool {
		if p.exited() {
			w.t.Fatalf("sentinel exec exited: %s\nthe broker's stderr:\n%s", p.wait(time.Second), b.proc.stderr.String())
		}
		m := sessionLine.FindStringSubmatch(p.stderr.String())
		if m != nil {
			sid = m[1]
		}
		return m != nil
	})
	w.t.Cleanup(func() { assertNoLocalStore(w.t, sb) })
	return p, sid
}

// assertNoLocalStore fails when a team-mode command made a store on the
// user's machine: in team mode only the broker has one.
func assertNoLocalStore(t *testing.T, sb *sandbox) {
	t.Helper()
	local := filepath.Join(sb.dir, "xdg", "data", "sentinel")
	if _, err := os.Stat(local); err == nil {
		t.Errorf("a team-mode command created a local store folder %s", local)
	}
	_ = filepath.WalkDir(sb.dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".db") {
			t.Errorf("a team-mode command created a store file %s", path)
		}
		return nil
	})
}

// served counts the loop child's records that got credentials.
func served(t *testing.T, records string) (ok, refused int) {
	t.Helper()
	for _, r := range testkit.ReadJSONLines[requestRecord](t, records) {
		if r.OK {
			ok++
		} else {
			refused++
		}
	}
	return ok, refused
}

// noneServedAfter fails for every request that started after at and was served.
func noneServedAfter(t *testing.T, records string, at time.Time, what string) (after int) {
	t.Helper()
	for _, r := range testkit.ReadJSONLines[requestRecord](t, records) {
		if r.Start <= at.UnixNano() {
			continue
		}
		after++
		if r.OK {
			t.Errorf("a request started %s after %s and got credentials", time.Duration(r.Start-at.UnixNano()), what)
		}
	}
	return after
}

func (u teamUser) String() string { return fmt.Sprintf("%s (%s)", u.name, u.arn) }
