package faults

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
)

const (
	userARN = "arn:aws:iam::123456789012:user/alice"
	roleARN = "arn:aws:iam::123456789012:role/Deployer"
	// stsBound: awscreds.DefaultTimeout (10 s) bounds one STS call, retries
	// included; the rest is slack.
	stsBound = 12 * time.Second
	// cachedBound is generous for a credential served from memory on a loaded machine.
	cachedBound = time.Second
)

// stsSandbox writes a role profile "prod" whose source profile "base" has
// the example keys, and returns the environment that points the SDK at sts.
func stsSandbox(t *testing.T, sts *fakests.Server) (*sandbox, map[string]string) {
	t.Helper()
	sb := newSandbox(t)
	sb.writeAWS(
		"[profile prod]\nrole_arn = "+roleARN+"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
	)
	return sb, map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()}
}

// assumeRoles splits the AssumeRole calls STS answered into failed and issued.
func assumeRoles(sts *fakests.Server) (failed int, issued []*fakests.Credentials) {
	for _, c := range sts.Calls() {
		if c.Action != "AssumeRole" {
			continue
		}
		if c.ErrorCode != "" {
			failed++
		} else if c.Issued != nil {
			issued = append(issued, c.Issued)
		}
	}
	return failed, issued
}

// The credential source fails or is slow, through the real AssumeRole path.
func TestCredentialSourceFaults(t *testing.T) {
	t.Parallel()

	// STS answers 503: each request gets a clear 502 naming the profile,
	// within the STS bound; the failure is never cached, so the first request
	// after STS recovers is served.
	t.Run("STS 5xx", func(t *testing.T) {
		t.Parallel()
		sts := fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, userARN),
			fakests.WithFailure("AssumeRole", fakests.Failure{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "Service is unavailable"}))
		sb, env := stsSandbox(t, sts)
		ls := sb.startLoadServer(serverOptions{name: "sts-5xx", env: env, workers: 1, pause: 50 * time.Millisecond,
			flags: []string{"--profile", "prod", "--identity-source", "sts", "--server-duration", "5m", "--lazy"}})
		ls.waitServed(t, time.Time{}, 502, 3, time.Minute)
		clearAt := time.Now()
		sts.SetFailure("AssumeRole", nil)
		first := ls.waitServed(t, clearAt, 200, 5, time.Minute)
		ls.askStop(t)
		if r := ls.proc.wait(commandTimeout); r.code != 0 {
			t.Errorf("exit code %d, want the child's 0: %s", r.code, r)
		}

		all := ls.requests(t)
		failing := cut(all, "STS failing", time.Unix(0, all[0].Start), clearAt)
		back := cut(all, "STS back", clearAt, time.Now())
		t.Logf("%s; %s", failing.summary(), back.summary())
		t.Logf("first 200 started %s after STS recovered", first.started().Sub(clearAt).Round(time.Millisecond))
		refused := 0
		for _, r := range failing.requests {
			if r.ended().After(clearAt) {
				continue // STS recovered while it waited: either answer is right
			}
			refused++
			if r.Status != http.StatusBadGateway || r.Code != "CredentialSourceFailed" || !strings.Contains(r.Message, `profile "prod"`) {
				t.Errorf("while STS failed: %d %s %q, want 502 CredentialSourceFailed naming profile \"prod\"", r.Status, r.Code, r.Message)
			}
			if r.latency() > stsBound {
				t.Errorf("a refusal took %s, over the %s bound", r.latency(), stsBound)
			}
		}
		back.requireSome(t, ls.name, 5)
		back.onlyStatus(t, ls.name, 200, "")

		failed, issued := assumeRoles(sts)
		t.Logf("AssumeRole: %d failed calls for %d refused requests, %d issued", failed, refused, len(issued))
		// Every refusal asked STS again: no failure was served from a cache.
		if failed < refused {
			t.Errorf("%d refused requests but only %d failed AssumeRole calls: a failure was cached", refused, failed)
		}
		// The success was cached: one AssumeRole serves every later request.
		if len(issued) != 1 {
			t.Errorf("AssumeRole issued %d credentials, want 1 (the first success, then the cache)", len(issued))
		} else {
			for _, r := range back.requests {
				if r.AccessKeyID != issued[0].AccessKeyID {
					t.Errorf("served key %s, not the one STS issued (%s)", r.AccessKeyID, issued[0].AccessKeyID)
					break
				}
			}
		}
		// The child's message is fixed; the STS error is in the server log.
		if stderr := ls.proc.readStderr(); !strings.Contains(stderr, "ServiceUnavailable") {
			t.Errorf("sentinel's log does not name the STS error ServiceUnavailable:\n%s", tail(stderr, 2000))
		}
	})

	// STS never answers: the request is refused when the STS call times out
	// (awscreds.DefaultTimeout), not held for the child's own timeout; once
	// STS answers again, the next request is served.
	t.Run("STS timeout", func(t *testing.T) {
		t.Parallel()
		sts := fakests.New(t, fakests.WithDelay(time.Minute))
		sb, env := stsSandbox(t, sts)
		// An OS identity, so startup needs no STS answer.
		ls := sb.startLoadServer(serverOptions{name: "sts-timeout", env: env, workers: 1, pause: 50 * time.Millisecond,
			flags: []string{"--profile", "prod", "--identity-source", "os", "--server-duration", "5m", "--lazy"}})
		refusal := ls.waitServed(t, time.Time{}, 502, 1, time.Minute)
		clearAt := time.Now()
		sts.SetDelay(0)
		ls.waitServed(t, clearAt, 200, 3, time.Minute)
		ls.askStop(t)
		if r := ls.proc.wait(commandTimeout); r.code != 0 {
			t.Errorf("exit code %d, want the child's 0: %s", r.code, r)
		}
		t.Logf("with STS silent, the request was refused after %s: %d %s", refusal.latency().Round(time.Millisecond), refusal.Status, refusal.Code)
		if refusal.latency() > stsBound || refusal.Code != "CredentialSourceFailed" || !strings.Contains(refusal.Message, `profile "prod"`) {
			t.Errorf("refusal %+v: want 502 CredentialSourceFailed naming profile \"prod\" within %s", refusal, stsBound)
		}
		if stderr := ls.proc.readStderr(); !strings.Contains(stderr, "no answer within") {
			t.Errorf("sentinel's log does not say STS gave no answer in time:\n%s", tail(stderr, 2000))
		}
		back := cut(ls.requests(t), "STS back", clearAt, time.Now())
		back.requireSome(t, ls.name, 3)
		back.onlyStatus(t, ls.name, 200, "")
	})

	// A good credential is cached, then STS turns slow: requests the cache
	// can serve stay fast and never wait for STS.
	t.Run("STS slow with a cached credential", func(t *testing.T) {
		t.Parallel()
		sts := fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, userARN))
		sb, env := stsSandbox(t, sts)
		ls := sb.startLoadServer(serverOptions{name: "sts-slow", env: env, workers: 2, pause: 5 * time.Millisecond,
			flags: []string{"--profile", "prod", "--identity-source", "sts", "--server-duration", "5m"}})
		ls.waitServed(t, time.Time{}, 200, 5, time.Minute)
		slowAt := time.Now()
		sts.SetDelay(time.Minute)
		time.Sleep(2 * time.Second)
		endAt := time.Now()
		ls.askStop(t)
		if r := ls.proc.wait(commandTimeout); r.code != 0 {
			t.Errorf("exit code %d, want the child's 0: %s", r.code, r)
		}
		slow := cut(ls.requests(t), "STS slow", slowAt, endAt)
		t.Logf("%s", slow.summary())
		slow.requireSome(t, ls.name, 20)
		slow.onlyStatus(t, ls.name, 200, "")
		if m := slow.maxLatency(); m > cachedBound {
			t.Errorf("a request took %s while STS was slow, want under %s from the cache", m, cachedBound)
		}
		_, issued := assumeRoles(sts)
		if len(issued) != 1 {
			t.Fatalf("AssumeRole issued %d credentials before STS turned slow, want 1 (the startup fetch)", len(issued))
		}
		for _, r := range slow.requests {
			if r.AccessKeyID != issued[0].AccessKeyID {
				t.Fatalf("served key %s, not the cached one STS issued at startup (%s)", r.AccessKeyID, issued[0].AccessKeyID)
			}
		}
	})
}
