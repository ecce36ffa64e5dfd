package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-gw/sentinel/internal/redisproc"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

// fleetSize is how many servers share the store in each test.
const fleetSize = 8

// asksPerCheck is how many requests each server gets per check, one after
// the other, so a refusal that does not last shows too.
const asksPerCheck = 2

// AWS's documented example keys: nothing reaches AWS (--no-session).
const (
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// Bounds, generous for a loaded 2-core machine running race-built servers.
const (
	startTimeout   = 60 * time.Second
	commandTimeout = 60 * time.Second
	stopTimeout    = 20 * time.Second
	requestTimeout = 10 * time.Second
)

const allowAllPolicy = `version: "1"
rules:
  - name: fleet-allow-server-mode
    effect: allow
    conditions:
      mode: [server]
    reason: fleet test
`

// childScript hands the endpoint to the test through a file ($0), written
// whole before it appears, then idles until sentinel stops it.
const childScript = `printf '%s\n%s\n' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 3600`

var sessionLine = regexp.MustCompile(`session ([0-9a-f]{32})\b`)

func TestFleetBolt(t *testing.T) {
	dir := t.TempDir()
	runFleet(t, "bolt://"+filepath.Join(dir, "shared.db"), nil)
}

func TestFleetRedis(t *testing.T) {
	base := testenv.Redis(t)
	prefix := "fleet-" + randomHex(t, 8)
	t.Cleanup(func() { testkit.DeleteRedisPrefix(t, base, prefix) })
	runFleet(t, base+"?prefix="+prefix, nil)
}

// TestFleetRedisCluster runs the fleet on a real Redis Cluster of three
// masters: the store URL names one node, and the servers' feeds, the
// revokers' announcements and every script go wherever the cluster says.
func TestFleetRedisCluster(t *testing.T) {
	cluster := redisproc.StartCluster(t)
	runFleet(t, "redis://"+cluster.Addrs[1]+"?cluster=true&prefix=fleet-"+randomHex(t, 8), nil)
}

// TestFleetRedisTLS runs the fleet on a real redis-server that speaks only
// TLS, through a rediss:// URL with the CA file and an ACL user.
func TestFleetRedisTLS(t *testing.T) {
	srv := redisproc.StartTLS(t, redisproc.TLSOptions{})
	store := "rediss://" + url.UserPassword(srv.User, srv.Password).String() + "@" + srv.Addr +
		"?prefix=" + srv.StorePrefix(randomHex(t, 8)) + "&ca_file=" + url.QueryEscape(srv.CAFile)
	runFleet(t, store, nil)
}

func TestFleetDynamoDB(t *testing.T) {
	endpoint := testenv.DynamoDBEndpoint(t)
	table := "fleet-" + randomHex(t, 8)
	t.Cleanup(func() { deleteDynamoTables(t, endpoint, table) })
	// The store's own client reads these; DynamoDB Local takes any key.
	storeEnv := []string{"AWS_ACCESS_KEY_ID=" + exampleKeyID, "AWS_SECRET_ACCESS_KEY=" + exampleSecret}
	runFleet(t, "dynamodb://"+table+"?region=us-east-1&endpoint="+endpoint, storeEnv)
}

// runFleet starts fleetSize servers on one store, revokes all but three of
// them one at a time in random order from separate processes, checking after
// each revoke that exactly the revoked servers refuse (each with its own
// revoke's reason) and all the others serve, then revokes the rest with
// --profile and checks that all refuse and the store agrees.
func runFleet(t *testing.T, store string, storeEnv []string) {
	e2e.Sentinel(t) // built before the clock starts
	began := time.Now()
	f := newFleet(t, store, storeEnv)
	f.mustRun("store", "init")
	t.Logf("store init took %s", time.Since(began).Round(time.Millisecond))

	servers := f.startServers(fleetSize)
	t.Logf("%d servers serving after %s", len(servers), time.Since(began).Round(time.Millisecond))
	revoked := map[string]string{} // session id -> the reason its revoke gave
	f.checkAll(servers, revoked, "before any revoke")

	seed := uint64(time.Now().UnixNano())
	t.Logf("revoke order seed %d", seed)
	order := mathrand.New(mathrand.NewPCG(seed, seed)).Perm(len(servers))
	singles := order[:len(servers)-3]
	var revokeTimes []time.Duration
	for step, i := range singles {
		s := servers[i]
		reason := fmt.Sprintf("fleet step %d", step+1)
		t0 := time.Now()
		r := f.mustRun("server-revoke", s.sessionID, "--reason", reason)
		revokeTimes = append(revokeTimes, time.Since(t0))
		if !strings.Contains(r, "revoked session "+s.sessionID) {
			t.Fatalf("server-revoke %s printed %q", s.sessionID, r)
		}
		revoked[s.sessionID] = reason
		f.checkAll(servers, revoked, fmt.Sprintf("after revoke %d (server %d)", step+1, i))
	}

	t0 := time.Now()
	r := f.mustRun("server-revoke", "--profile", f.profile, "--reason", "fleet bulk")
	revokeTimes = append(revokeTimes, time.Since(t0))
	rest := len(servers) - len(singles)
	if !strings.Contains(r, fmt.Sprintf("revoked %d active session(s) of profile %s", rest, f.profile)) {
		t.Errorf("server-revoke --profile should revoke the %d still active; printed:\n%s", rest, r)
	}
	for _, s := range servers {
		if _, done := revoked[s.sessionID]; !done {
			revoked[s.sessionID] = "fleet bulk"
		}
	}
	f.checkAll(servers, revoked, "after server-revoke --profile")
	t.Logf("revoke commands took %v", revokeTimes)

	f.stopAll(servers)
	f.checkStore(servers, revoked)
	t.Logf("%s: %d servers, %d single revokes and one --profile revoke, in %s",
		strings.SplitN(store, ":", 2)[0], len(servers), len(singles), time.Since(began).Round(time.Millisecond))
}

// fleet is one test's private world: AWS files, policy and environment in a
// temp dir, so nothing of the machine's AWS setup reaches sentinel.
type fleet struct {
	t       *testing.T
	bin     string
	dir     string
	store   string
	profile string
	user    string
	env     []string
	client  *http.Client
}

func newFleet(t *testing.T, store string, storeEnv []string) *fleet {
	t.Helper()
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// A profile of its own, so --profile revokes this test's sessions only on a shared server.
	f := &fleet{t: t, bin: e2e.Sentinel(t), dir: dir, store: store, profile: "fleet-" + randomHex(t, 6), user: me.Username,
		client: &http.Client{Timeout: requestTimeout, Transport: &http.Transport{DisableKeepAlives: true}}}
	files := map[string]string{
		"aws-config":      "[profile " + f.profile + "]\nregion = us-east-1\n",
		"aws-credentials": "[" + f.profile + "]\naws_access_key_id = " + exampleKeyID + "\naws_secret_access_key = " + exampleSecret + "\n",
		"policy.yaml":     allowAllPolicy,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.env = append(testkit.Environ(testkit.HomeEnv(t, dir), map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
	}), storeEnv...)
	return f
}

// mustRun runs one sentinel command on the store to completion and returns its stdout.
func (f *fleet) mustRun(args ...string) string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.bin, append(args, "--store", f.store, "--identity-source", "os")...)
	cmd.Env, cmd.Dir = f.env, f.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("sentinel %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		f.t.Errorf("data race in sentinel %v:\n%s", args, stderr.String())
	}
	return stdout.String()
}

// server is one running `sentinel exec --server` and its idle child.
type server struct {
	index     int
	cmd       *exec.Cmd
	url       string
	token     string
	sessionID string
	output    testkit.LockedBuffer
	done      chan struct{}
	// served counts the 200s this test got from it.
	served int
}

// startServers starts n servers at once and waits until each child has its
// endpoint and each server has named its session.
func (f *fleet) startServers(n int) []*server {
	f.t.Helper()
	servers := make([]*server, n)
	errs := make([]error, n)
	ready := make([]time.Duration, n)
	began := time.Now()
	var wg sync.WaitGroup
	for i := range servers {
		s := f.launch(i)
		servers[i] = s
		wg.Go(func() {
			errs[i] = f.waitReady(s)
			ready[i] = time.Since(began).Round(time.Millisecond)
		})
	}
	wg.Wait()
	f.t.Logf("servers ready after %v", ready)
	for _, err := range errs {
		if err != nil {
			f.t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for _, s := range servers {
		if ids[s.sessionID] {
			f.t.Fatalf("two servers named the same session %s", s.sessionID)
		}
		ids[s.sessionID] = true
	}
	return servers
}

func (f *fleet) launch(i int) *server {
	f.t.Helper()
	endpoint := filepath.Join(f.dir, fmt.Sprintf("endpoint-%d", i))
	cmd := exec.Command(f.bin, "exec", "--server", "--profile", f.profile, "--no-session", "--identity-source", "os",
		"--policy", filepath.Join(f.dir, "policy.yaml"), "--log-file", filepath.Join(f.dir, fmt.Sprintf("decisions-%d.jsonl", i)),
		"--store", f.store, "--", "sh", "-c", childScript, endpoint)
	cmd.Env, cmd.Dir = f.env, f.dir
	e2e.OwnProcessGroup(cmd) // a kill takes the child too
	cmd.WaitDelay = 2 * time.Second
	s := &server{index: i, cmd: cmd, url: endpoint, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.output, &s.output
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start sentinel exec --server: %v", err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	f.t.Cleanup(func() {
		e2e.KillProcessGroup(cmd.Process)
		<-s.done
	})
	return s
}

// waitReady reads the endpoint file (s.url until then) and the session line.
func (f *fleet) waitReady(s *server) error {
	endpoint := s.url
	deadline := time.Now().Add(startTimeout)
	for {
		if s.sessionID == "" {
			if m := sessionLine.FindStringSubmatch(s.output.String()); m != nil {
				s.sessionID = m[1]
			}
		}
		if data, err := os.ReadFile(endpoint); err == nil {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "http://127.0.0.1:") || lines[1] == "" {
				return fmt.Errorf("server %d: the child got no credential endpoint: %q", s.index, data)
			}
			s.url, s.token = lines[0], lines[1]
		}
		if s.sessionID != "" && s.token != "" {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("server %d exited before serving:\n%s", s.index, s.output.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %d not ready after %s:\n%s", s.index, startTimeout, s.output.String())
		}
	}
}

// reply is one credential response, as much as the test reads of it.
type reply struct {
	status      int
	accessKeyID string
	code        string
	message     string
}

func (f *fleet) get(s *server) (reply, error) {
	req, err := http.NewRequest(http.MethodGet, s.url, nil)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", s.token)
	resp, err := f.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return reply{}, err
	}
	var doc struct {
		AccessKeyID string `json:"AccessKeyId"`
		Code        string `json:"Code"`
		Message     string `json:"Message"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return reply{}, fmt.Errorf("HTTP %d with a body that is not JSON: %q", resp.StatusCode, body)
	}
	return reply{status: resp.StatusCode, accessKeyID: doc.AccessKeyID, code: doc.Code, message: doc.Message}, nil
}

// checkAll asks every server asksPerCheck times, all servers at the same
// time: a revoked one must refuse with its own revoke's reason, any other
// must serve the profile's key.
func (f *fleet) checkAll(servers []*server, revoked map[string]string, when string) {
	f.t.Helper()
	problems := make([]string, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			for range asksPerCheck {
				if problems[i] = f.check(s, revoked); problems[i] != "" {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		if p != "" {
			f.t.Errorf("%s: %s", when, p)
		}
	}
	if f.t.Failed() {
		f.t.FailNow()
	}
}

// check asks s once and says what is wrong with the answer, if anything.
func (f *fleet) check(s *server, revoked map[string]string) string {
	i := s.index
	r, err := f.get(s)
	reason, isRevoked := revoked[s.sessionID]
	switch {
	case err != nil:
		return fmt.Sprintf("server %d (session %s): %v", i, s.sessionID, err)
	case isRevoked && (r.status != http.StatusForbidden || r.code != "SessionRevoked" ||
		!strings.Contains(r.message, "session revoked by "+f.user) || !strings.HasSuffix(r.message, ": "+reason)):
		return fmt.Sprintf("server %d (session %s) was revoked for %q but answered %d %s %q",
			i, s.sessionID, reason, r.status, r.code, r.message)
	case !isRevoked && (r.status != http.StatusOK || r.accessKeyID != exampleKeyID):
		return fmt.Sprintf("server %d (session %s) was not revoked but answered %d %s %q (key %q)",
			i, s.sessionID, r.status, r.code, r.message, r.accessKeyID)
	case !isRevoked:
		s.served++
	}
	return ""
}

// stopAll sends SIGTERM to every server (sentinel stops its child, records
// its counts and exits) and fails on a data race in any of them.
func (f *fleet) stopAll(servers []*server) {
	f.t.Helper()
	for _, s := range servers {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(stopTimeout)
	for _, s := range servers {
		select {
		case <-s.done:
		case <-deadline:
			f.t.Fatalf("server %d did not exit within %s of SIGTERM:\n%s", s.index, stopTimeout, s.output.String())
		}
		if strings.Contains(s.output.String(), "WARNING: DATA RACE") {
			f.t.Errorf("data race in server %d:\n%s", s.index, s.output.String())
		}
	}
}

// checkStore reads the sessions back through another process: each is
// revoked with its own reason, by this user, and counted exactly the 200s
// this test got from its server.
func (f *fleet) checkStore(servers []*server, revoked map[string]string) {
	f.t.Helper()
	out := f.mustRun("server-sessions", "--profile", f.profile, "--status", "all", "--output", "json", "--limit", "100")
	var list []ports.Session
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		f.t.Fatalf("server-sessions --output json: %v\n%s", err, out)
	}
	byID := map[string]ports.Session{}
	for _, s := range list {
		byID[s.ID] = s
	}
	if len(list) != len(servers) {
		f.t.Errorf("the store lists %d sessions for profile %s, want %d", len(list), f.profile, len(servers))
	}
	for _, s := range servers {
		got, found := byID[s.sessionID]
		switch {
		case !found:
			f.t.Errorf("server %d: session %s is not in the store", s.index, s.sessionID)
		case got.Status != ports.SessionRevoked || got.RevokedReason != revoked[s.sessionID] || got.RevokedBy != f.user:
			f.t.Errorf("server %d: session %s is %s by %q for %q; want revoked by %s for %q",
				s.index, s.sessionID, got.Status, got.RevokedBy, got.RevokedReason, f.user, revoked[s.sessionID])
		case got.RequestCount != int64(s.served):
			f.t.Errorf("server %d: session %s counts %d requests, the test got %d credentials from it",
				s.index, s.sessionID, got.RequestCount, s.served)
		}
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// deleteDynamoTables drops the tables `sentinel store init` created for this test.
func deleteDynamoTables(t *testing.T, endpoint, table string) {
	client := dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider(exampleKeyID, exampleSecret, ""),
		DisableValidateResponseChecksum: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{table, table + "-requests", table + "-breakglass"} {
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Logf("delete table %s: %v", name, err)
		}
	}
}
