package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

const refusalPolicy = `version: "1"
rules:
  - name: needs-approval
    effect: require_approval
    conditions:
      profiles: [prod, stage]
    reason: a second person decides
approvals:
  - name: prod-approvals
    profiles: [prod, stage]
    approvers: [bob, "arn:aws:iam::111122223333:user/carol"]
`

// Who may decide a request, each refusal with its message; and that having
// the store (mallory runs sentinel on the same machine, with the same file)
// is not being an approver, the original system's bug.
func approvalRefusals(t *testing.T, log *transcript) {
	w := newOverrideWorld(t, refusalPolicy, log)
	ask := func(p person, profile string) string {
		t.Helper()
		return idFrom(t, w.mustRunAs(p, "request", "--profile", profile, "--justification", "investigating ticket 99"))
	}
	aliceProd := ask(alice, "prod")

	// Self-approval, by a requester who is not an approver and by one who is.
	w.refuse(alice, []string{"you cannot approve your own request"}, "approve", aliceProd)
	bobProd := ask(bob, "prod")
	w.refuse(bob, []string{"you cannot approve your own request: another approver for profile prod must"}, "approve", bobProd)
	w.refuse(bob, []string{"you cannot deny your own request"}, "deny", bobProd)

	// A non-approver with the same store file: refused, and nothing written.
	w.refuse(mallory, []string{"mallory is not an approver for profile prod (rule prod-approvals approvers: bob, arn:aws:iam::111122223333:user/carol)"},
		"approve", aliceProd, "--comment", "lgtm")
	w.refuse(mallory, []string{"mallory is not an approver for profile prod"}, "deny", aliceProd)
	w.refuse(mallory, []string{"mallory cannot cancel request " + aliceProd, "only its requester (alice)"}, "request-cancel", aliceProd[:8])
	if got := w.request(aliceProd); got.Status != ports.RequestPending || got.Version != 1 || got.Approver != "" {
		t.Errorf("after refusals: %+v; want the request untouched (pending, version 1)", got)
	}

	// carol approves through her ARN; a decided request cannot be decided again.
	if r := w.mustRunAs(carol, "approve", aliceProd[:10]); !strings.Contains(r.stdout, "approved request "+aliceProd) {
		t.Errorf("carol (an approver by ARN) approves: %s", r)
	}
	w.refuse(bob, []string{"request " + aliceProd + " is already approved (by carol"}, "deny", aliceProd)
	if r := w.mustRunAs(carol, "deny", bobProd, "--comment", "not today", "--output", "json"); !strings.Contains(r.stdout, `"status": "denied"`) {
		t.Errorf("carol denies bob's request: %s", r)
	}
	w.refuse(carol, []string{"request " + bobProd + " was denied (by carol)"}, "approve", bobProd)

	// No approval rule for the profile: no request, and none approved.
	w.refuse(alice, []string{"no approval rule covers profile db", "could never be approved"},
		"request", "--profile", "db", "--justification", "investigating ticket 99")
	aliceStage := ask(alice, "stage")
	w.writePolicy(strings.Replace(refusalPolicy, "profiles: [prod, stage]\n    approvers", "profiles: [prod]\n    approvers", 1))
	w.refuse(bob, []string{"no approval rule covers profile stage: it cannot be approved"}, "approve", aliceStage)
	if got := w.request(aliceStage); got.Status != ports.RequestPending {
		t.Errorf("a request without a rule: %s, want still pending", got.Status)
	}
	// Malformed input is a usage error (exit 2), not a refusal.
	for _, args := range [][]string{
		{"approve", "xyz"},
		{"request", "--profile", "prod", "--justification", "too short"},
		{"request", "--profile", "prod", "--justification", "investigating ticket 99", "--duration", "30s"},
	} {
		if r := w.runAs(alice, args...); r.code != exitUsage {
			t.Errorf("sentinel %v: exit %d, want 2 (usage)\n%s", args, r.code, r)
		}
	}
}

const limitsPolicy = `version: "1"
rules:
  - name: closed
    effect: deny
    conditions:
      profiles: [stage, db]
breakglass:
  - name: limited
    profiles: [stage, db]
    users: [alice, bob]
    max_per_user: 2
    max_per_profile: 1
    escalation_threshold: 1
`

// max_per_user, max_per_profile and the escalation threshold, each with
// its message; one active event per invoker and profile; who may close.
func breakGlassLimits(t *testing.T, log *transcript) {
	w := newOverrideWorld(t, limitsPolicy, log)
	invoke := func(p person, profile string) result {
		t.Helper()
		return w.runAs(p, "breakglass", "--profile", profile, "--reason-code", "recovery", "--justification", "restoring from last night's backup")
	}
	first := invoke(alice, "stage")
	if first.code != 0 || strings.Contains(first.stderr, "escalated") {
		t.Fatalf("alice's first break-glass: %s", first)
	}
	stage := idFrom(t, first)
	w.refuse(alice, []string{"alice already has an active break-glass for stage (" + stage}, "breakglass", "--profile", "stage",
		"--reason-code", "other", "--justification", "a second one while the first is active")
	w.refuse(mallory, []string{"mallory cannot close break-glass " + stage}, "breakglass-close", stage, "--reason", "mine now")
	// bob may invoke for stage, so bob may close alice's event.
	if r := w.mustRunAs(bob, "breakglass-close", stage[:8], "--reason", "handing over"); !strings.Contains(r.stdout, "closed break-glass "+stage) {
		t.Errorf("bob closes alice's event: %s", r)
	}
	w.refuse(alice, []string{"break-glass " + stage + " is already closed (by bob"}, "breakglass-close", stage, "--reason", "again")

	second := invoke(alice, "db")
	if second.code != 0 || !strings.Contains(second.stderr, "escalated: alice has invoked break-glass 2 times in the last 24h (this one included), above the escalation threshold 1 of rule limited") {
		t.Fatalf("alice's second break-glass: want it escalated, with a warning; got %s", second)
	}
	db := idFrom(t, second)
	if e := w.breakGlass(db); !e.Escalated {
		t.Errorf("event %s is not flagged escalated", db)
	}
	w.mustRunAs(alice, "breakglass-close", db, "--reason", "done")

	third := w.refuse(alice, []string{"alice has invoked break-glass 2 times in the last 24h, the most rule limited allows (max_per_user 2): next allowed at "},
		"breakglass", "--profile", "stage", "--reason-code", "recovery", "--justification", "restoring from last night's backup")
	first24h := w.breakGlass(stage).CreatedAt.Add(24 * time.Hour).Truncate(time.Second).Add(time.Second).UTC().Format(time.RFC3339)
	if !strings.Contains(third.stderr, "next allowed at "+first24h) {
		t.Errorf("max_per_user refusal does not say the next one is allowed at %s (24h after the first): %s", first24h, third.stderr)
	}
	w.refuse(bob, []string{"break-glass for db was invoked 1 times in the last 24h, the most rule limited allows (max_per_profile 1): next allowed at "},
		"breakglass", "--profile", "db", "--reason-code", "recovery", "--justification", "restoring from last night's backup")

	var all []ports.BreakGlassEvent
	decodeJSON(t, w.mustRunAs(bob, "breakglass-list", "--output", "json").stdout, &all)
	if len(all) != 2 {
		t.Errorf("breakglass-list shows %d events, want the 2 invoked (refusals store nothing)", len(all))
	}
	if r := w.mustRunAs(bob, "breakglass-list", "--invoker", "alice"); !strings.Contains(r.stdout, "ESC") || !strings.Contains(r.stdout, "yes") {
		t.Errorf("the table does not flag the escalated event:\n%s", r.stdout)
	}
}
