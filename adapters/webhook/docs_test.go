package webhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/core/policy"
)

const webhooksDoc = "../../docs/webhooks.md"

// fencedBlocks returns the bodies of the ```lang blocks of a markdown text.
func fencedBlocks(markdown, lang string) []string {
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```$")
	var out []string
	for _, m := range re.FindAllStringSubmatch(markdown, -1) {
		out = append(out, m[1])
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDocsYAMLExamples: every yaml block of docs/webhooks.md is a policy
// that parses, has webhooks, and builds a Notifier once its secrets are set.
func TestDocsYAMLExamples(t *testing.T) {
	t.Parallel()
	blocks := fencedBlocks(readFile(t, webhooksDoc), "yaml")
	if len(blocks) == 0 {
		t.Fatal("no yaml blocks in the doc")
	}
	for i, block := range blocks {
		pol, err := policy.Parse([]byte(block))
		if err != nil {
			t.Errorf("yaml block %d does not parse: %v\n%s", i+1, err, block)
			continue
		}
		if len(pol.Webhooks) == 0 {
			t.Errorf("yaml block %d configures no webhook:\n%s", i+1, block)
			continue
		}
		if _, err := New(Config{Webhooks: pol.Webhooks, Getenv: func(string) string { return "set" }}); err != nil {
			t.Errorf("yaml block %d: New: %v", i+1, err)
		}
	}
}

// TestDocsGoSnippet: the Go receiver in the doc is, verbatim, the one that
// example_test.go compiles and ExampleVerify runs.
func TestDocsGoSnippet(t *testing.T) {
	t.Parallel()
	blocks := fencedBlocks(readFile(t, webhooksDoc), "go")
	if len(blocks) == 0 {
		t.Fatal("no go blocks in the doc")
	}
	example := readFile(t, "example_test.go")
	for i, block := range blocks {
		if !strings.Contains(example, block) {
			t.Errorf("go block %d is not in example_test.go (keep the two identical):\n%s", i+1, block)
		}
	}
}

// jsonShape lists the keys of a JSON object and of the objects inside it.
func jsonShape(t *testing.T, data []byte) []string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, data)
	}
	var keys []string
	for k, v := range obj {
		keys = append(keys, k)
		if inner, ok := v.(map[string]any); ok {
			for _, ik := range slices.Sorted(maps.Keys(inner)) {
				keys = append(keys, k+"."+ik)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// TestDocsBodyExamples: each json block has exactly the fields a real body
// of its event type has, and a well-formed delivery id.
func TestDocsBodyExamples(t *testing.T) {
	t.Parallel()
	blocks := fencedBlocks(readFile(t, webhooksDoc), "json")
	if len(blocks) < 2 {
		t.Fatalf("%d json blocks in the doc, want a request and a break-glass example", len(blocks))
	}
	for i, block := range blocks {
		var head struct{ ID, Type string }
		if err := json.Unmarshal([]byte(block), &head); err != nil {
			t.Fatalf("json block %d: %v", i+1, err)
		}
		if !slices.Contains(policy.WebhookEvents(), head.Type) {
			t.Errorf("json block %d: unknown type %q", i+1, head.Type)
			continue
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(head.ID) {
			t.Errorf("json block %d: id %q is not 32 lowercase hex", i+1, head.ID)
		}
		genuine, err := json.Marshal(payload{ID: head.ID, Notification: noteFor(head.Type)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonShape(t, []byte(block)), jsonShape(t, genuine); !slices.Equal(got, want) {
			t.Errorf("json block %d (%s) has fields\n%v\nwant\n%v", i+1, head.Type, got, want)
		}
	}
}

// TestDocsMentionEverything: headers, events, defaults and failure reasons
// named in code all appear in the doc.
func TestDocsMentionEverything(t *testing.T) {
	t.Parallel()
	doc := readFile(t, webhooksDoc)
	want := []string{
		HeaderEvent, HeaderDelivery, HeaderTimestamp, HeaderSignature, "sha256=",
		fmt.Sprintf("Up to %d attempts", DefaultMaxAttempts),
		fmt.Sprintf("waiting %d ms", DefaultBaseBackoff.Milliseconds()),
		fmt.Sprintf("at most %d KiB", maxResponseRead>>10),
		"Default `" + policy.FormatDuration(policy.DefaultWebhookTimeout) + "`",
		"at most `" + policy.FormatDuration(policy.MaxWebhookTimeout) + "`",
		reasonExhausted, reasonTimeSpent, reasonWouldNotFit, reasonRefused, reasonRedirect, reasonCancelled,
	}
	for _, e := range policy.WebhookEvents() {
		want = append(want, "`"+e+"`")
	}
	for _, s := range want {
		if !strings.Contains(strings.Join(strings.Fields(doc), " "), s) {
			t.Errorf("docs/webhooks.md does not mention %q", s)
		}
	}
}
