package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A require_server_session rule naming a store refuses a server that tracks
// its session in another one (a throwaway bbolt file), naming both; the same
// rule naming the server's store serves.
func TestExecServerSessionStoreRule(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("prod")
	local := "bolt://" + filepath.Join(sb.dir, "throwaway.db")
	policy := func(store string) string {
		return `version: "1"
rules:
  - name: prod-central
    effect: require_server_session
    conditions:
      profiles: [prod]
    session_store: "` + store + `"
`
	}
	run := func(t *testing.T) (result, retrieveResult) {
		out := filepath.Join(t.TempDir(), "child.json")
		r := sb.run(map[string]string{"SENTINEL_STORE": local, childModeEnv: childRetrieve, childOutEnv: out, childFailCodeEnv: "42"},
			append(append([]string{"exec", "--server", "--profile", "prod"}, sb.offlineFlags()...), "--", childCommand(t))...)
		return r, readChildResult(t, out)
	}

	const central = "dynamodb://sentinel-sessions?region=eu-west-1"
	sb.writePolicy(policy(central))
	r, child := run(t)
	if r.code != 42 || child.OK {
		t.Fatalf("tracked in %s under a rule naming %s: exit %d, child %+v; want the request refused\n%s", local, central, r.code, child, r)
	}
	for _, want := range []string{central, local, "--store"} {
		if !strings.Contains(child.Error, want) {
			t.Errorf("refusal %q does not name %q", child.Error, want)
		}
	}

	sb.writePolicy(policy(local))
	if r, child := run(t); r.code != 0 || !child.OK || child.AccessKeyID != exampleKeyID {
		t.Fatalf("tracked in the store the rule names: exit %d, child %+v\n%s", r.code, child, r)
	}
}

// Static keys passed through (--no-session) never expire: a rule with a cap
// refuses them at startup, saying what to do, unless it opts in.
func TestExecServerRefusesLongLivedPassThrough(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	const capped = `version: "1"
rules:
  - name: dev-capped
    effect: allow
    max_server_duration: 30m
`
	sb.writePolicy(capped)
	r := sb.run(nil, append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", "true")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (refused at startup)\n%s", r.code, r)
	}
	for _, want := range []string{"rule dev-capped", "passed through unchanged", "never expire", "allow_long_lived_passthrough: true", "--no-session"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}

	sb.writePolicy(capped + "    allow_long_lived_passthrough: true\n")
	if r := sb.run(nil, append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", "true")...); r.code != 0 {
		t.Fatalf("with the opt-in: %s", r)
	}
}
