package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// person is someone the local fake STS knows by an access key.
type person struct {
	name, keyID, arn string
}

// The cast of the override tests. Their ARNs are in the account the docs use.
var (
	alice   = person{"alice", "AKIAALICE00000000001", "arn:aws:iam::111122223333:user/alice"}
	bob     = person{"bob", "AKIABOB0000000000002", "arn:aws:iam::111122223333:user/bob"}
	carol   = person{"carol", "AKIACAROL00000000003", "arn:aws:iam::111122223333:user/carol"}
	mallory = person{"mallory", "AKIAMALLORY000000004", "arn:aws:iam::111122223333:user/mallory"}
	cast    = []person{alice, bob, carol, mallory}
)

// servedProfiles are profiles sentinel exec serves; their source keys are alice's.
var servedProfiles = []string{"prod", "stage", "db"}

// overrideWorld is a sandbox with a fake STS that tells the cast apart, a
// policy, and the bbolt store every sentinel process of the test shares.
type overrideWorld struct {
	*sandbox
	sts *fakests.Server
	// base is the environment of every sentinel process: the STS endpoint,
	// the policy and the decision log.
	base map[string]string
	log  *transcript
}

func newOverrideWorld(t *testing.T, policyYAML string, log *transcript) *overrideWorld {
	t.Helper()
	sb := newSandbox(t)
	var opts []fakests.Option
	for _, p := range cast {
		opts = append(opts, fakests.WithUser(p.keyID, exampleSecret, p.arn))
	}
	sts := fakests.New(t, opts...)
	var config, creds strings.Builder
	for _, p := range cast {
		fmt.Fprintf(&config, "[profile %s]\nregion = us-east-1\n\n", p.name)
		fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", p.name, p.keyID, exampleSecret)
	}
	for _, name := range servedProfiles {
		fmt.Fprintf(&config, "[profile %s]\nregion = us-east-1\n\n", name)
		fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", name, alice.keyID, exampleSecret)
	}
	sb.writeAWS(config.String(), creds.String())
	sb.writePolicy(policyYAML)
	if log == nil {
		log = &transcript{}
	}
	return &overrideWorld{sandbox: sb, sts: sts, log: log, base: map[string]string{
		"AWS_ENDPOINT_URL_STS": sts.URL(),
		"SENTINEL_POLICY":      sb.policy,
		"SENTINEL_LOG_FILE":    sb.decisions,
	}}
}

// env is the base environment plus AWS_PROFILE=p (who runs the command) and extra.
func (w *overrideWorld) env(p person, extra map[string]string) map[string]string {
	out := map[string]string{"AWS_PROFILE": p.name}
	for k, v := range w.base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// runAs runs sentinel as p and records its output.
func (w *overrideWorld) runAs(p person, args ...string) result {
	w.t.Helper()
	r := w.run(w.env(p, nil), args...)
	w.log.output(r)
	return r
}

// mustRunAs runs sentinel as p and fails the test unless it exits 0.
func (w *overrideWorld) mustRunAs(p person, args ...string) result {
	w.t.Helper()
	r := w.runAs(p, args...)
	if r.code != 0 {
		w.t.Fatalf("%s: sentinel %v: %s", p.name, args, r)
	}
	return r
}

// runDoc runs a command line as the docs show it, with the example id
// replaced by a real one, and records that the docs' line ran.
func (w *overrideWorld) runDoc(p person, line, exampleID, realID string) result {
	w.t.Helper()
	w.log.command(line)
	args := shellWords(w.t, strings.ReplaceAll(line, exampleID, realID))
	if args[0] != "sentinel" {
		w.t.Fatalf("doc command %q does not start with sentinel", line)
	}
	return w.runAs(p, args[1:]...)
}

// refuse runs sentinel as p, wants exit 1, and wants every fragment on stderr.
func (w *overrideWorld) refuse(p person, fragments []string, args ...string) result {
	w.t.Helper()
	r := w.runAs(p, args...)
	if r.code != exitError {
		w.t.Errorf("%s: sentinel %v: exit %d, want 1 (refused)\n%s", p.name, args, r.code, r)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			w.t.Errorf("%s: sentinel %v: stderr lacks %q:\n%s", p.name, args, f, r.stderr)
		}
	}
	return r
}

// startLoop starts sentinel exec --server for profile with the looping SDK
// child, whose requests go to records; the child stops 20 requests after arm exists.
func (w *overrideWorld) startLoop(profile, records, arm string, flags ...string) *process {
	w.t.Helper()
	env := map[string]string{childModeEnv: childLoop, childOutEnv: records, childAfterDenialEnv: "20", childMaxEnv: "60s", childArmEnv: arm}
	for k, v := range w.base {
		env[k] = v
	}
	args := append([]string{"exec", "--server", "--profile", profile, "--no-session", "--identity-source", "sts"}, flags...)
	return w.start(env, append(args, "--", childCommand(w.t))...)
}

// request reads one request as JSON through request-show.
func (w *overrideWorld) request(id string) ports.ApprovalRequest {
	w.t.Helper()
	var r ports.ApprovalRequest
	decodeJSON(w.t, w.mustRunAs(alice, "request-show", id, "--output", "json").stdout, &r)
	return r
}

// breakGlass reads one event as JSON through breakglass-show.
func (w *overrideWorld) breakGlass(id string) ports.BreakGlassEvent {
	w.t.Helper()
	var e ports.BreakGlassEvent
	decodeJSON(w.t, w.mustRunAs(alice, "breakglass-show", id, "--output", "json").stdout, &e)
	return e
}

func decodeJSON(t *testing.T, text string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, text)
	}
}

var createdID = regexp.MustCompile(`^(?:request|break-glass) ([0-9a-f]{32}) `)

// idFrom reads the id a create command printed on its first line.
func idFrom(t *testing.T, r result) string {
	t.Helper()
	m := createdID.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no id on the first line of stdout:\n%s", r)
	}
	return m[1]
}

// waitRecord polls the loop child's records until one satisfies cond.
func waitRecord(t *testing.T, records, what string, cond func(requestRecord) bool) requestRecord {
	t.Helper()
	var found requestRecord
	testkit.Eventually(t, 30*time.Second, what, func() bool {
		for _, r := range testkit.ReadJSONLines[requestRecord](t, records) {
			if cond(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// shellWords splits a command line the way sh would for the docs' simple
// lines: words separated by spaces, double quotes group.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, c := range line {
		switch {
		case c == '"':
			inQuote, inWord = !inQuote, true
		case c == ' ' && !inQuote:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inQuote {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// transcript collects the doc command lines the tests ran and every line
// sentinel (or its child) printed, so the docs can be held to them.
type transcript struct {
	mu       sync.Mutex
	commands []string
	lines    []string
}

func (l *transcript) command(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commands = append(l.commands, line)
}

func (l *transcript) output(r result) {
	l.print(r.stdout + "\n" + r.stderr)
}

func (l *transcript) print(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) != "" {
			l.lines = append(l.lines, line)
		}
	}
}

func (l *transcript) ran(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.commands, line)
}

// printed reports whether some printed line has the shape of shown: the
// same text, with ids, times and relative durations free to differ.
func (l *transcript) printed(shown string) bool {
	re := shapeOf(shown)
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, re.MatchString)
}

var (
	shapeTokens = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\b[0-9a-f]{32}\b|\b[0-9a-f]{12}\b|\b\d+[smhd] ago\b|\bin \d+[smhd]\b|\s+`)
)

// shapeOf turns a line shown in the docs into a pattern for printed lines.
func shapeOf(shown string) *regexp.Regexp {
	var b strings.Builder
	last := 0
	shown = strings.TrimSpace(shown)
	for _, m := range shapeTokens.FindAllStringIndex(shown, -1) {
		b.WriteString(regexp.QuoteMeta(shown[last:m[0]]))
		tok := shown[m[0]:m[1]]
		switch {
		case strings.TrimSpace(tok) == "":
			b.WriteString(`\s+`)
		case len(tok) == 20 && tok[4] == '-':
			b.WriteString(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
		case len(tok) == 32:
			b.WriteString(`[0-9a-f]{32}`)
		case len(tok) == 12 && !strings.Contains(tok, " "):
			b.WriteString(`[0-9a-f]{12}`)
		case strings.HasSuffix(tok, " ago"):
			b.WriteString(`\d+[smhd] ago`)
		default:
			b.WriteString(`in \d+[smhd]`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(shown[last:]))
	return regexp.MustCompile(b.String())
}
