package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/adapters/awsiam"
)

// The revoker's IAM permissions in docs/revocation.md are JSON, and list
// exactly the actions the IAM adapter calls: on roles, and on users for
// --all-user-sessions.
func TestDocsRevocationPermissions(t *testing.T) {
	data, err := os.ReadFile("../../docs/revocation.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### IAM permissions for the revoker\n")
	if !ok {
		t.Fatal("docs/revocation.md has no section \"### IAM permissions for the revoker\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	section, _, _ = strings.Cut(section, "\n### ")
	_, block, ok := strings.Cut(section, "```json\n")
	if !ok {
		t.Fatal("the permissions section has no json block")
	}
	block, _, _ = strings.Cut(block, "\n```")
	var doc struct {
		Version   string
		Statement []struct {
			Sid, Effect, Resource string
			Action                []string
		}
	}
	if err := json.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("the permissions block is not JSON: %v", err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 2 {
		t.Fatalf("want a 2012-10-17 policy with two statements (roles, users), got %+v", doc)
	}
	for i, want := range []struct {
		actions  []string
		resource string
	}{{awsiam.RolePermissions, ":role/"}, {awsiam.UserPermissions, ":user/"}} {
		st := doc.Statement[i]
		got := slices.Sorted(slices.Values(st.Action))
		if !slices.Equal(got, slices.Sorted(slices.Values(want.actions))) || st.Effect != "Allow" || !strings.Contains(st.Resource, want.resource) {
			t.Errorf("statement %d (%s): %s %v on %s; want Allow %v on %s...", i+1, st.Sid, st.Effect, st.Action, st.Resource, want.actions, want.resource)
		}
	}
}
