package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

const referenceDoc = "../../docs/policy-reference.md"

// fencedBlocks returns the bodies of the ```lang blocks of a markdown file.
func fencedBlocks(t *testing.T, markdown, lang string) []string {
	t.Helper()
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```$")
	var out []string
	for _, m := range re.FindAllStringSubmatch(markdown, -1) {
		out = append(out, m[1])
	}
	return out
}

func readDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReferenceDocExamples keeps docs/policy-reference.md honest: every yaml
// block parses, is also a file under testdata/docs, and every such file is
// shown in the doc.
func TestReferenceDocExamples(t *testing.T) {
	// Examples that demonstrate a lint warning, with how many they raise.
	wantWarnings := map[string]int{"lint-shadow.yaml": 1}

	files, err := filepath.Glob("testdata/docs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byContent := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		byContent[string(data)] = filepath.Base(f)
	}

	blocks := fencedBlocks(t, readDoc(t), "yaml")
	if len(blocks) == 0 {
		t.Fatal("no yaml blocks found in the reference doc")
	}
	shown := map[string]bool{}
	for i, block := range blocks {
		pol, err := Parse([]byte(block))
		if err != nil {
			t.Errorf("yaml block %d does not parse: %v\n%s", i+1, err, block)
			continue
		}
		name, ok := byContent[block]
		if !ok {
			t.Errorf("yaml block %d is not a file under testdata/docs:\n%s", i+1, block)
			continue
		}
		shown[name] = true
		if got := pol.Lint(); len(got) != wantWarnings[name] {
			t.Errorf("%s: %d lint warnings %v, want %d", name, len(got), got, wantWarnings[name])
		}
	}
	for _, f := range files {
		if !shown[filepath.Base(f)] {
			t.Errorf("%s is not shown in the reference doc", f)
		}
	}
}

func TestReferenceDocErrorOutput(t *testing.T) {
	texts := fencedBlocks(t, readDoc(t), "text")
	if len(texts) != 1 {
		t.Fatalf("want one text block (the error output), found %d", len(texts))
	}
	data, err := os.ReadFile("testdata/bad-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data)
	if err == nil {
		t.Fatal("bad-example.yaml parsed")
	}
	if got, want := err.Error()+"\n", texts[0]; got != want {
		t.Errorf("Parse(bad-example.yaml) =\n%s\nthe doc shows\n%s", got, want)
	}
}

func TestReferenceDocDecisionJSON(t *testing.T) {
	blocks := fencedBlocks(t, readDoc(t), "json")
	if len(blocks) != 1 {
		t.Fatalf("want one json block, found %d", len(blocks))
	}
	pol := loadDocExample(t, "effects.yaml")
	d := pol.Evaluate(Request{Profile: "prod", Mode: ModeCLI, Time: time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)})
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != blocks[0] {
		t.Errorf("decision JSON = %s\nthe doc shows %s", got, blocks[0])
	}
}

func loadDocExample(t *testing.T, name string) *Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(data))
}

// TestReferenceDocClaims checks the behaviour the doc describes for its examples.
func TestReferenceDocClaims(t *testing.T) {
	type claim struct {
		file  string
		req   Request
		when  string
		zone  string
		day   time.Weekday
		allow bool
		rule  string
	}
	admin := ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Admin/mallory", Name: "mallory", Source: "sts"}
	fakeAlice := ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Other/alice", Name: "alice", Source: "sts"}
	claims := []claim{
		// Overnight table (Europe/London is UTC in January).
		{"overnight.yaml", Request{Profile: "prod"}, "2026-01-09T23:00:00Z", "Europe/London", time.Friday, true, "friday-night-maintenance"},
		{"overnight.yaml", Request{Profile: "prod"}, "2026-01-10T03:00:00Z", "Europe/London", time.Saturday, true, "friday-night-maintenance"},
		{"overnight.yaml", Request{Profile: "prod"}, "2026-01-09T22:00:00Z", "Europe/London", time.Friday, true, "friday-night-maintenance"},
		{"overnight.yaml", Request{Profile: "prod"}, "2026-01-10T06:00:00Z", "Europe/London", time.Saturday, false, ""},
		{"overnight.yaml", Request{Profile: "prod"}, "2026-01-09T03:00:00Z", "Europe/London", time.Friday, false, ""},
		// New York: 13:30 UTC is inside on 9 March 2026, outside on 6 March.
		{"office-hours.yaml", Request{Profile: "billing"}, "2026-03-09T13:30:00Z", "America/New_York", time.Monday, true, "new-york-office-hours"},
		{"office-hours.yaml", Request{Profile: "billing"}, "2026-03-06T13:30:00Z", "America/New_York", time.Friday, false, ""},
		// Complete example.
		{"complete.yaml", Request{Profile: "root", Mode: ModeServer, SessionTracking: true, Identity: admin}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, "deny-root"},
		{"complete.yaml", Request{Profile: "prod", Mode: ModeServer, SessionTracking: true, Identity: admin}, "2026-03-09T13:30:00Z", "UTC", time.Monday, true, "prod-tracked-server"},
		{"complete.yaml", Request{Profile: "prod", Mode: ModeServer, SessionTracking: false, Identity: admin}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, "prod-tracked-server"},
		{"complete.yaml", Request{Profile: "staging", Mode: ModeCLI}, "2026-03-09T13:30:00Z", "America/New_York", time.Monday, true, "staging-office-hours"},
		{"complete.yaml", Request{Profile: "dev", Mode: ModeCLI}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, "dev-server-only"},
		{"complete.yaml", Request{Profile: "other", Mode: ModeServer}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, ""},
		// Users: the Admin role by ARN whatever the session name; a name is exact.
		{"users.yaml", Request{Profile: "prod", Identity: admin}, "2026-03-09T13:30:00Z", "UTC", time.Monday, true, "admins"},
		{"users.yaml", Request{Profile: "dev", Identity: ports.Identity{Name: "alice.admin", Source: "os"}}, "2026-03-09T13:30:00Z", "UTC", time.Monday, true, "named-iam-users"},
		{"users.yaml", Request{Profile: "dev", Identity: ports.Identity{Name: "aliceadmin", Source: "os"}}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, ""},
		{"users.yaml", Request{Profile: "dev", Identity: fakeAlice}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, ""},
		// Mode.
		{"mode.yaml", Request{Profile: "prod", Mode: ModeCredentialProcess}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, "no-credential-process-for-prod"},
		{"mode.yaml", Request{Profile: "prod", Mode: ModeServer}, "2026-03-09T13:30:00Z", "UTC", time.Monday, true, "prod-server"},
		// Effects example.
		{"effects.yaml", Request{Profile: "prod-admin", Mode: ModeServer, SessionTracking: true}, "2026-03-09T13:30:00Z", "UTC", time.Monday, false, "prod-needs-approval"},
		// Lint example: the ops bot's prod request at night is allowed before the deny.
		{"lint-shadow.yaml", Request{Profile: "prod", Identity: ports.Identity{Name: "ops-bot"}}, "2026-03-09T23:00:00Z", "UTC", time.Monday, true, "ops-everywhere"},
		{"lint-shadow.yaml", Request{Profile: "prod", Identity: ports.Identity{Name: "eve"}}, "2026-03-09T23:00:00Z", "UTC", time.Monday, false, "nobody-in-prod-at-night"},
	}
	for _, c := range claims {
		t.Run(c.file+"/"+c.when, func(t *testing.T) {
			c.req.Time = at(t, c.when, c.zone, c.day)
			d := loadDocExample(t, c.file).Evaluate(c.req)
			if d.Allowed() != c.allow || d.Rule != c.rule {
				t.Errorf("%+v -> %+v, want allowed=%v by rule %q", c.req, d, c.allow, c.rule)
			}
		})
	}
	d := loadDocExample(t, "max-duration.yaml").Evaluate(Request{Profile: "prod", Mode: ModeServer})
	if !d.Allowed() || d.MaxServerDuration != 20*time.Minute {
		t.Errorf("max-duration example = %+v, want allowed with a 20m cap", d)
	}
}

func TestReferenceDocMentionsEveryField(t *testing.T) {
	doc := readDoc(t)
	for _, fields := range [][]string{policyFields, ruleFields, conditionFields, timeWindowFields, hourRangeFields,
		approvalFields, autoApproveFields, breakGlassFields, notificationFields, webhookFields, reasonCodes, webhookEvents} {
		for _, f := range fields {
			if !strings.Contains(doc, "`"+f+"`") {
				t.Errorf("reference doc does not mention field `%s`", f)
			}
		}
	}
	for _, e := range allEffects {
		if !strings.Contains(doc, "`"+string(e)+"`") {
			t.Errorf("reference doc does not mention effect `%s`", e)
		}
	}
}
