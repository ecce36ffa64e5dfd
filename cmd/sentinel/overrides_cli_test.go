package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Malformed ids and flags are usage errors (exit 2) found before any store
// or policy is read.
func TestOverrideCommandsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"request-show", "5d41"}, `"5d41" is not a request id`},
		{[]string{"approve", "5D41402ABC4B"}, `is not a request id`},
		{[]string{"deny", "not-hex-at-all"}, `is not a request id`},
		{[]string{"request-cancel", strings.Repeat("a", 33)}, `is not a request id`},
		{[]string{"breakglass-show", "zzzzzzzzzz"}, `is not a break-glass id: give the 32 lowercase hex characters from sentinel breakglass-list --status all`},
		{[]string{"breakglass-close", "9e107d9d372b"}, `--reason`},
		{[]string{"breakglass", "--profile", "prod", "--reason-code", "boredom", "--justification", "x"}, `--reason-code must be one of`},
		{[]string{"request", "--profile", "prod", "--justification", "investigating ticket 99", "--duration", "59s"}, `--duration 59s is too short`},
		{[]string{"requests", "--status", "open"}, `--status must be one of`},
		{[]string{"requests", "--limit", "0"}, `--limit must be 1-1000`},
		{[]string{"breakglass-list", "--limit", "1001"}, `--limit must be 1-1000`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			code, _, stderr := e.run(tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, want 2 with %q on stderr:\n%s", code, tt.wantErr, stderr)
			}
			e.assertNoStore(t)
		})
	}
}

// clockEnv runs the CLI in-process on a fake clock.
func clockEnv(e cliEnv, clock ports.Clock) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(args, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string { return e.vars[k] }, Clock: clock})
		return code, out.String(), errOut.String()
	}
}

// A request nobody decides expires 24h after it was made, and listing
// stores that; an approved request's window ends on time.
func TestRequestsExpireOnTheirDeadline(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	clock := ports.NewFakeClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	run := clockEnv(e, clock)
	policy := writeTemp(t, e.dir, "policy.yaml", `version: "1"
rules:
  - name: needs-approval
    effect: require_approval
    conditions:
      profiles: [prod]
approvals:
  - name: prod-approvals
    profiles: [prod]
    approvers: [somebody-else]
`)
	store := "bolt://" + filepath.Join(e.dir, "store.db")
	flags := []string{"--policy", policy, "--store", store, "--identity-source", "os"}
	code, stdout, stderr := run(append([]string{"request", "--profile", "prod", "--justification", "investigating ticket 99", "--duration", "12h", "--output", "json"}, flags...)...)
	if code != 0 {
		t.Fatalf("request: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "duration 12h capped to the 8h maximum") {
		t.Errorf("no warning about the capped duration:\n%s", stderr)
	}
	var r ports.ApprovalRequest
	decodeJSON(t, stdout, &r)
	if r.Duration != 8*time.Hour || !r.ExpiresAt.Equal(clock.Now().Add(24*time.Hour)) {
		t.Errorf("request %+v: want 8h, deciding by 24h from now", r)
	}

	list := func(status string) []ports.ApprovalRequest {
		t.Helper()
		code, stdout, stderr := run("requests", "--status", status, "--output", "json", "--store", store)
		if code != 0 {
			t.Fatalf("requests: exit %d: %s", code, stderr)
		}
		var out []ports.ApprovalRequest
		decodeJSON(t, stdout, &out)
		return out
	}
	clock.Advance(24*time.Hour - time.Second)
	if got := list("pending"); len(got) != 1 || got[0].ID != r.ID {
		t.Fatalf("a second before the deadline: pending %+v", got)
	}
	clock.Advance(time.Second)
	got := list("expired")
	if len(got) != 1 || got[0].ID != r.ID || got[0].Version != 2 || !got[0].UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("at the deadline: expired %+v; want the request stored as expired (version 2) by the listing", got)
	}
	if got := list("pending"); len(got) != 0 {
		t.Errorf("still pending after its deadline: %+v", got)
	}
	if code, _, stderr := run(append([]string{"request-cancel", r.ID[:8]}, flags...)...); code != exitError || !strings.Contains(stderr, "has expired (nobody decided by") {
		t.Errorf("cancelling an expired request: exit %d, %s", code, stderr)
	}
}

// cli-mode credentials open the store only when an override could apply
// to the profile: an offline user without a store file never gets one.
func TestOneShotOpensTheStoreOnlyForOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		policy    string
		wantStore bool
	}{
		{"no override sections", allowAllPolicy, false},
		{"rules for another profile", allowAllPolicy + "approvals:\n  - name: a\n    profiles: [prod]\n    approvers: [bob]\n" +
			"breakglass:\n  - name: b\n    profiles: [prod]\n    users: [bob]\n", false},
		{"an approval rule for the profile", allowAllPolicy + "approvals:\n  - name: a\n    profiles: [dev]\n    approvers: [bob]\n", true},
		{"a break-glass rule for every profile", allowAllPolicy + "breakglass:\n  - name: b\n    users: [bob]\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			sb.staticProfile("dev")
			// No rule matches dev (a deny no override lifts), so nothing is looked
			// up: only whether the store is opened is measured.
			sb.writePolicy(strings.Replace(tt.policy, "reason: tests\n", "reason: tests\n    conditions:\n      profiles: [nothing]\n", 1))
			r := sb.run(nil, append([]string{"credentials", "--profile", "dev"}, sb.offlineFlags()...)...)
			if r.code != exitError || !strings.Contains(r.stderr, "policy denied") {
				t.Fatalf("credentials: want a deny (no rule matches dev): %s", r)
			}
			storeFile := filepath.Join(sb.env["XDG_DATA_HOME"], "sentinel", "sentinel.db")
			_, err := os.Stat(storeFile)
			if exists := err == nil; exists != tt.wantStore {
				t.Errorf("store file exists = %v, want %v", exists, tt.wantStore)
			}
		})
	}
}
