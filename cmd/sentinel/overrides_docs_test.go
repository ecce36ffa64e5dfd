package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sentinel-gw/sentinel/core/policy"
)

// Every policy example in the approval and break-glass docs is a valid
// policy file, with the section it illustrates.
func TestOverrideDocsPoliciesParse(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"approvals.md", "breakglass.md"} {
		blocks := docBlocks(t, doc, "yaml")
		if len(blocks) < 2 {
			t.Errorf("docs/%s has %d yaml examples, want the walkthrough's policy and more", doc, len(blocks))
		}
		for i, block := range blocks {
			pol, err := policy.Parse([]byte(block))
			if err != nil {
				t.Errorf("docs/%s yaml block %d does not parse:\n%v\n%s", doc, i+1, err, block)
				continue
			}
			if doc == "approvals.md" && len(pol.Approvals) == 0 || doc == "breakglass.md" && len(pol.BreakGlass) == 0 {
				t.Errorf("docs/%s yaml block %d has no %s section:\n%s", doc, i+1, doc, block)
			}
		}
	}
}

// docBlocks returns the ```lang blocks of a doc under docs/ verbatim (the
// shared fencedBlocks trims indentation, which YAML cannot lose).
func docBlocks(t *testing.T, doc, lang string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```"+lang+"\n(.*?)^```$").FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}
