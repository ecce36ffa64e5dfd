package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// The walkthroughs of docs/approvals.md and docs/breakglass.md, as the docs
// show them. The tests run exactly these lines (with the id a run printed
// in place of the example id) and TestOverridesEndToEnd then checks that
// every command and every output line the docs show is one of them.
const (
	docExampleRequestID    = "5d41402abc4b"
	docExampleBreakGlassID = "9e107d9d372b"

	docRequest         = `sentinel request --profile prod --justification "deploy the 4.2 hotfix (CHG-1234)" --duration 2h`
	docPending         = `sentinel requests --status pending`
	docApprove         = `sentinel approve 5d41402abc4b --comment "ok for the hotfix"`
	docRequestShow     = `sentinel request-show 5d41402abc4b`
	docRequestCancel   = `sentinel request-cancel 5d41402abc4b`
	docBreakGlass      = `sentinel breakglass --profile prod --reason-code incident --justification "INC-4711: payments API down, restoring the database" --duration 30m`
	docBreakGlassList  = `sentinel breakglass-list --status active`
	docBreakGlassShow  = `sentinel breakglass-show 9e107d9d372b`
	docBreakGlassWrong = `sentinel breakglass --profile prod --reason-code maintenance --justification "rotating the database certificates tonight"`
	docBreakGlassClose = `sentinel breakglass-close 9e107d9d372b --reason "database restored"`
)

// The overrides end to end, on bbolt, through the built binary, with the
// caller's identity resolved by STS (a local fake that tells alice, bob,
// carol and mallory apart by their keys). The walkthroughs run in
// parallel; the docs are checked against what they ran and printed.
func TestOverridesEndToEnd(t *testing.T) {
	t.Parallel()
	log := &transcript{}
	t.Run("walkthroughs", func(t *testing.T) {
		t.Run("approval", func(t *testing.T) { t.Parallel(); approvalWalkthrough(t, log) })
		t.Run("break-glass", func(t *testing.T) { t.Parallel(); breakGlassWalkthrough(t, log) })
		t.Run("approval refusals", func(t *testing.T) { t.Parallel(); approvalRefusals(t, log) })
		t.Run("break-glass limits", func(t *testing.T) { t.Parallel(); breakGlassLimits(t, log) })
	})
	if t.Failed() {
		return
	}
	for _, doc := range []string{"approvals.md", "breakglass.md"} {
		t.Run("docs/"+doc+" shows what ran", func(t *testing.T) {
			commands := 0
			for _, block := range docBlocks(t, doc, "sh") {
				for _, line := range strings.Split(block, "\n") {
					line = strings.TrimSpace(line)
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					commands++
					if !log.ran(line) {
						t.Errorf("the shell example %q is not one the tests run", line)
					}
				}
			}
			outputs := 0
			for _, block := range docBlocks(t, doc, "text") {
				for _, line := range strings.Split(block, "\n") {
					if strings.TrimSpace(line) == "" {
						continue
					}
					outputs++
					if !log.printed(line) {
						t.Errorf("the output line %q was not printed by any test run (pattern %s)", line, shapeOf(line))
					}
				}
			}
			if commands < 4 || outputs < 4 {
				t.Errorf("%s shows %d commands and %d output lines; the walkthrough is missing", doc, commands, outputs)
			}
		})
	}
}

// docPolicy is the first yaml block of a doc: the walkthrough's policy.
func docPolicy(t *testing.T, doc string) string {
	t.Helper()
	blocks := docBlocks(t, doc, "yaml")
	if len(blocks) == 0 {
		t.Fatalf("docs/%s has no yaml block", doc)
	}
	return blocks[0] + "\n"
}

// A require_approval profile: the running server refuses, alice requests,
// bob approves, the server's next request succeeds (and credential_process
// honours it too), alice cancels, the server refuses again.
func approvalWalkthrough(t *testing.T, log *transcript) {
	w := newOverrideWorld(t, docPolicy(t, "approvals.md"), log)
	records := filepath.Join(w.dir, "requests.jsonl")
	arm := filepath.Join(w.dir, "cancel-returned")
	server := w.startLoop("prod", records, arm)

	first := waitRecord(t, records, "the server's first refusal", func(r requestRecord) bool { return !r.OK })
	log.print(first.Message)
	if !strings.Contains(first.Message, "rule prod-needs-approval") || !strings.Contains(first.Message, "run sentinel request --profile prod") {
		t.Errorf("refusal %q: want the rule and the remedy (run sentinel request)", first.Message)
	}
	oneShot := []string{"credentials", "--profile", "prod", "--no-session", "--identity-source", "sts"}
	if r := w.runAs(alice, oneShot...); r.code != exitError || !strings.Contains(r.stderr, "requires approval") {
		t.Errorf("credential_process before approval: want exit 1 saying requires approval; got %s", r)
	}

	created := w.runDoc(alice, docRequest, "", "")
	if created.code != 0 {
		t.Fatalf("sentinel request: %s", created)
	}
	id := idFrom(t, created)
	short := id[:shortIDLen]
	if !strings.Contains(created.stdout, "sentinel approve "+short) {
		t.Errorf("sentinel request does not say how to approve it:\n%s", created.stdout)
	}
	if got := w.request(id); got.Status != ports.RequestPending || got.Requester != "alice" || got.RequesterARN != alice.arn || got.Duration != 2*time.Hour {
		t.Errorf("stored request %+v: want pending, by alice (%s), for 2h", got, alice.arn)
	}
	if r := w.runDoc(bob, docPending, docExampleRequestID, short); r.code != 0 || !strings.Contains(r.stdout, short) || !strings.Contains(r.stdout, "pending") {
		t.Errorf("requests --status pending does not list %s: %s", short, r)
	}

	approveStarted := time.Now()
	if r := w.runDoc(bob, docApprove, docExampleRequestID, short); r.code != 0 || !strings.Contains(r.stdout, "approved request "+id) {
		t.Fatalf("bob approves: %s", r)
	}
	approved := time.Now()
	waitRecord(t, records, "a request served after the approval", func(r requestRecord) bool { return r.OK && r.Start > approved.UnixNano() })
	if r := w.runAs(alice, oneShot...); r.code != 0 || !strings.Contains(r.stdout, alice.keyID) {
		t.Errorf("credential_process after approval: want alice's key served; got %s", r)
	}
	shown := w.runDoc(alice, docRequestShow, docExampleRequestID, short)
	if shown.code != 0 || !strings.Contains(shown.stdout, "approved") || !strings.Contains(shown.stdout, "ok for the hotfix") {
		t.Errorf("request-show after approval: %s", shown)
	}
	got := w.request(id)
	if got.Status != ports.RequestApproved || got.Approver != "bob" || got.ApprovedAt.Before(approveStarted.Add(-time.Second)) ||
		got.ExpiresAt.Sub(got.ApprovedAt) != 2*time.Hour {
		t.Errorf("approved request %+v: want approved by bob, window 2h from approved_at", got)
	}

	cancelStarted := time.Now()
	if r := w.runDoc(alice, docRequestCancel, docExampleRequestID, short); r.code != 0 || !strings.Contains(r.stdout, "cancelled request "+id) {
		t.Fatalf("alice cancels: %s", r)
	}
	cancelled := time.Now()
	w.write(arm, "")
	if r := server.wait(60 * time.Second); r.code != 0 {
		t.Fatalf("sentinel exec (the loop child exits 0): %s", r)
	}

	var before, during, after int
	for _, rec := range testkit.ReadJSONLines[requestRecord](t, records) {
		switch {
		case rec.End < approveStarted.UnixNano():
			before++
			if rec.OK {
				t.Errorf("a request before the approval was served")
			}
		case rec.Start > approved.UnixNano() && rec.End < cancelStarted.UnixNano():
			during++
			if !rec.OK {
				t.Errorf("a request while approved was refused: %s", rec.Message)
			}
		case rec.Start > cancelled.UnixNano():
			after++
			if rec.OK {
				t.Errorf("a request started %s after request-cancel returned was served", time.Duration(rec.Start-cancelled.UnixNano()))
			} else if !strings.Contains(rec.Message, "requires approval") {
				t.Errorf("refusal after the cancel %q does not say the profile requires approval", rec.Message)
			}
		}
	}
	if before == 0 || during == 0 || after < 20 {
		t.Errorf("requests: %d before the approval, %d while approved, %d after the cancel; want some, some, and at least 20", before, during, after)
	}
	if r := w.runAs(alice, oneShot...); r.code != exitError || !strings.Contains(r.stderr, "requires approval") {
		t.Errorf("credential_process after the cancel: want exit 1 saying requires approval; got %s", r)
	}
	if got := w.request(id); got.Status != ports.RequestCancelled || got.CancelledBy != "alice" {
		t.Errorf("after the cancel: %+v; want cancelled by alice", got)
	}
	// Every allow in the decision log was the approval's doing.
	allows := 0
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, w.decisions) {
		if d.Effect == "allow" {
			allows++
			if d.Override != "approval:"+id || d.User != "alice" {
				t.Errorf("allow without the approval: %+v", d)
			}
		}
	}
	if allows < during {
		t.Errorf("decision log has %d allows, the child saw %d served while approved", allows, during)
	}
}

// A deny profile: refused, break-glass invoked, served with an expiration
// capped by the event, closed, refused again; then the rule's limits.
func breakGlassWalkthrough(t *testing.T, log *transcript) {
	w := newOverrideWorld(t, docPolicy(t, "breakglass.md"), log)
	records := filepath.Join(w.dir, "requests.jsonl")
	arm := filepath.Join(w.dir, "close-returned")
	server := w.startLoop("prod", records, arm, "--server-duration", "1h")

	first := waitRecord(t, records, "the server's first refusal", func(r requestRecord) bool { return !r.OK })
	log.print(first.Message)
	if !strings.Contains(first.Message, "policy denied: rule deny-prod") {
		t.Errorf("refusal %q: want policy denied: rule deny-prod", first.Message)
	}

	invokeStarted := time.Now()
	invoked := w.runDoc(alice, docBreakGlass, "", "")
	if invoked.code != 0 {
		t.Fatalf("sentinel breakglass: %s", invoked)
	}
	invokeReturned := time.Now()
	id := idFrom(t, invoked)
	short := id[:shortIDLen]
	event := w.breakGlass(id)
	if event.Status != ports.BreakGlassActive || event.Invoker != "alice" || event.ReasonCode != "incident" || event.Duration != 30*time.Minute {
		t.Fatalf("stored event %+v: want active, alice, incident, 30m", event)
	}
	waitRecord(t, records, "a request served under break-glass", func(r requestRecord) bool { return r.OK && r.Start > invokeReturned.UnixNano() })

	// An SDK client of another server for prod sees the capped Expiration.
	out := filepath.Join(w.dir, "child.json")
	env := map[string]string{childModeEnv: childRetrieve, childOutEnv: out}
	for k, v := range w.base {
		env[k] = v
	}
	if r := w.run(env, "exec", "--server", "--profile", "prod", "--no-session", "--identity-source", "sts", "--server-duration", "1h", "--", childCommand(t)); r.code != 0 {
		t.Fatalf("a second server under break-glass: %s", r)
	}
	child := readChildResult(t, out)
	if !child.OK || child.Expires.After(event.ExpiresAt) || child.Expires.Before(invokeStarted.Add(29*time.Minute)) {
		t.Errorf("served Expiration %s (ok %v): want at most the break-glass end %s, not the 1h --server-duration", child.Expires, child.OK, event.ExpiresAt)
	}

	if r := w.runDoc(bob, docBreakGlassList, docExampleBreakGlassID, short); r.code != 0 || !strings.Contains(r.stdout, short) {
		t.Errorf("breakglass-list --status active does not list %s: %s", short, r)
	}
	if r := w.runDoc(bob, docBreakGlassShow, docExampleBreakGlassID, short); r.code != 0 || !strings.Contains(r.stdout, "INC-4711") {
		t.Errorf("breakglass-show: %s", r)
	}
	closeStarted := time.Now()
	if r := w.runDoc(alice, docBreakGlassClose, docExampleBreakGlassID, short); r.code != 0 || !strings.Contains(r.stdout, "closed break-glass "+id) {
		t.Fatalf("alice closes: %s", r)
	}
	closed := time.Now()
	w.write(arm, "")
	if r := server.wait(60 * time.Second); r.code != 0 {
		t.Fatalf("sentinel exec (the loop child exits 0): %s", r)
	}
	var during, after int
	for _, rec := range testkit.ReadJSONLines[requestRecord](t, records) {
		switch {
		case rec.End < invokeStarted.UnixNano() && rec.OK:
			t.Error("a request before break-glass was served")
		case rec.Start > invokeReturned.UnixNano() && rec.End < closeStarted.UnixNano():
			during++
			if !rec.OK {
				t.Errorf("a request under break-glass was refused: %s", rec.Message)
			}
		case rec.Start > closed.UnixNano():
			after++
			if rec.OK || !strings.Contains(rec.Message, "rule deny-prod") {
				t.Errorf("a request started after breakglass-close returned: ok %v, %q; want refused by deny-prod", rec.OK, rec.Message)
			}
		}
	}
	if during == 0 || after < 20 {
		t.Errorf("requests: %d under break-glass, %d after the close; want some and at least 20", during, after)
	}
	allows := 0
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, w.decisions) {
		if d.Effect != "allow" {
			continue
		}
		allows++
		served, err := time.ParseDuration(d.ServedDuration)
		if d.Override != "breakglass:"+id || err != nil || served > 30*time.Minute || d.CredentialsExpire.After(event.ExpiresAt) {
			t.Errorf("allow %+v: want the break-glass override, served at most 30m, expiring by %s", d, event.ExpiresAt)
		}
	}
	if allows == 0 {
		t.Error("decision log has no allow under break-glass")
	}
	if got := w.breakGlass(id); got.Status != ports.BreakGlassClosed || got.ClosedBy != "alice" || got.ClosedReason != "database restored" {
		t.Errorf("after the close: %+v", got)
	}

	// The rule's limits, with the time the next one is allowed.
	again := w.runDoc(alice, docBreakGlass, "", "")
	nextAt := event.CreatedAt.Add(30 * time.Minute).Truncate(time.Second).Add(time.Second).UTC().Format(time.RFC3339)
	if again.code != exitError || !strings.Contains(again.stderr, "cooldown: next break-glass for prod allowed at "+nextAt) {
		t.Errorf("a second break-glass within the cooldown: want exit 1 naming %s; got %s", nextAt, again)
	}
	wrong := w.runDoc(bob, docBreakGlassWrong, "", "")
	if wrong.code != exitError || !strings.Contains(wrong.stderr, "reason code maintenance is not allowed for prod: use one of incident, security (rule prod-emergency)") {
		t.Errorf("a reason code the rule does not allow: %s", wrong)
	}
	if r := w.runAs(bob, "breakglass", "--profile", "prod", "--reason-code", "boredom", "--justification", "this is not an emergency at all"); r.code != exitUsage || !strings.Contains(r.stderr, "boredom") {
		t.Errorf("an unknown reason code: want a usage error (exit 2); got %s", r)
	}
	w.refuse(mallory, []string{"no break-glass rule", "lets mallory invoke break-glass for prod"},
		"breakglass", "--profile", "prod", "--reason-code", "incident", "--justification", "I would like production access please")
	var active []ports.BreakGlassEvent
	decodeJSON(t, w.mustRunAs(bob, "breakglass-list", "--status", "active", "--output", "json").stdout, &active)
	if len(active) != 0 {
		t.Errorf("refused invocations left active events: %+v", active)
	}
}
