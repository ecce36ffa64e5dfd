package storeurl

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// Every store URL docs/stores.md shows parses, and its IAM policy is JSON.
func TestDocsStores(t *testing.T) {
	data, err := os.ReadFile("../../docs/stores.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{}
	var lang string
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case lang == "" && strings.HasPrefix(line, "```") && len(line) > 3:
			lang, cur = strings.TrimPrefix(line, "```"), nil
		case lang != "" && line == "```":
			blocks[lang] = append(blocks[lang], strings.Join(cur, "\n"))
			lang = ""
		case lang != "":
			cur = append(cur, line)
		}
	}
	if len(blocks["url"]) != 1 || len(blocks["json"]) != 1 {
		t.Fatalf("docs/stores.md should have one url block and one json block, has %d and %d", len(blocks["url"]), len(blocks["json"]))
	}
	kinds := map[Kind]bool{}
	for _, raw := range strings.Split(strings.TrimSpace(blocks["url"][0]), "\n") {
		spec, err := Parse(raw)
		if err != nil {
			t.Errorf("the doc's %s: %v", raw, err)
			continue
		}
		kinds[spec.Kind] = true
	}
	if len(kinds) != 3 {
		t.Errorf("the doc's URLs cover %v, want all three backends", kinds)
	}
	var iam struct {
		Statement []struct {
			Sid    string
			Action []string
		}
	}
	if err := json.Unmarshal([]byte(blocks["json"][0]), &iam); err != nil {
		t.Fatalf("the IAM policy is not JSON: %v", err)
	}
	var sids []string
	for _, s := range iam.Statement {
		if len(s.Action) == 0 {
			t.Errorf("statement %s grants no action", s.Sid)
		}
		sids = append(sids, s.Sid)
	}
	if want := []string{"SentinelStore", "SentinelStoreInit", "SentinelStoreSweep"}; !slices.Equal(sids, want) {
		t.Errorf("the IAM policy's statements are %v, want %v (use, init, retention sweep)", sids, want)
	}
}
