package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/core/gateway"
)

// iamDoc is the part of an IAM policy document the docs test reads.
type iamDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    any
		Principal map[string]string
		Condition map[string]map[string]string
	}
}

func (d iamDoc) actions(sid string) []string {
	for _, s := range d.Statement {
		if s.Sid != sid {
			continue
		}
		switch a := s.Action.(type) {
		case string:
			return []string{a}
		case []any:
			var out []string
			for _, x := range a {
				out = append(out, x.(string))
			}
			return out
		}
	}
	return nil
}

// The IAM policies docs/security.md gives parse, and say what team mode
// relies on: the broker may assume and set SourceIdentity, the target roles
// trust only the broker and only a SourceIdentity Sentinel makes, and users
// are denied the roles and the store.
func TestDocsSecurityPolicies(t *testing.T) {
	data, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]iamDoc{}
	re := regexp.MustCompile("(?s)<!-- ([a-z-]+) -->\n```json\n(.*?)\n```")
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		var d iamDoc
		if err := json.Unmarshal([]byte(m[2]), &d); err != nil {
			t.Fatalf("%s: not JSON: %v", m[1], err)
		}
		if d.Version != "2012-10-17" {
			t.Errorf("%s: Version %q", m[1], d.Version)
		}
		blocks[m[1]] = d
	}
	for _, name := range []string{"broker-role-policy", "target-role-trust-policy", "user-deny-policy"} {
		if _, ok := blocks[name]; !ok {
			t.Fatalf("docs/security.md has no %s block", name)
		}
	}
	broker := blocks["broker-role-policy"].actions("AssumeTargetRoles")
	for _, a := range []string{"sts:AssumeRole", "sts:SetSourceIdentity"} {
		if !slices.Contains(broker, a) {
			t.Errorf("the broker role may not %s: %v", a, broker)
		}
	}
	trust := blocks["target-role-trust-policy"]
	if len(trust.Statement) != 1 || trust.Statement[0].Principal["AWS"] == "" {
		t.Fatalf("the trust policy should trust exactly the broker's role: %+v", trust)
	}
	pattern := trust.Statement[0].Condition["StringLike"]["sts:SourceIdentity"]
	si := gateway.SourceIdentity("alice", "0123456789abcdef0123456789abcdef")
	if !strings.HasSuffix(pattern, "*") || !strings.HasPrefix(si, strings.TrimSuffix(pattern, "*")) {
		t.Errorf("the trust condition %q does not match the SourceIdentity Sentinel sets (%q)", pattern, si)
	}
	if deny := blocks["user-deny-policy"].actions("NoDirectAccessToWhatSentinelGuards"); !slices.Contains(deny, "sts:AssumeRole") {
		t.Errorf("users are not denied sts:AssumeRole on the target roles: %v", deny)
	}
}
