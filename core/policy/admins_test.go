package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestAdminsParse(t *testing.T) {
	pol := mustParse(t, doc(`version: "1"`,
		"admins:",
		"  - alice",
		`  - "arn:aws:sts::123456789012:assumed-role/SecOps/*"`,
		"rules: []"))
	want := []string{"alice", "arn:aws:sts::123456789012:assumed-role/SecOps/*"}
	if strings.Join(pol.Admins, ",") != strings.Join(want, ",") {
		t.Fatalf("Admins = %q, want %q", pol.Admins, want)
	}
	if pol := mustParse(t, doc(`version: "1"`, "admins: []", "rules: []")); len(pol.Admins) != 0 {
		t.Errorf("admins: [] gives %q, want none", pol.Admins)
	}
}

func TestAdminsParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  wantErr
	}{
		{"no value", doc(`version: "1"`, "admins:", "rules: []"), wantErr{2, 8, "admins is empty: list who may see and revoke everyone's sessions"}},
		{"a scalar", doc(`version: "1"`, "admins: alice", "rules: []"), wantErr{2, 9, "admins must be a list: write admins: [alice]"}},
		{"an empty entry", doc(`version: "1"`, `admins: [alice, ""]`, "rules: []"), wantErr{2, 17, "an entry of admins is empty"}},
		{"an ARN in the wrong case", doc(`version: "1"`, `admins: ["ARN:aws:iam::1:user/a"]`, "rules: []"), wantErr{2, 10, `admin "ARN:aws:iam::1:user/a" looks like an ARN: start it with lowercase "arn:"`}},
		{"a mapping", doc(`version: "1"`, "admins: {alice: true}", "rules: []"), wantErr{2, 9, "admins must be a list of values, got a mapping"}},
		{"misspelt", doc(`version: "1"`, "admin: [alice]", "rules: []"), wantErr{2, 1, `unknown field "admin" in the policy: did you mean "admins"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input))
			var list ParseErrors
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("Parse = %v, want exactly one error", err)
			}
			if got := list[0]; got.Line != tt.want.line || got.Column != tt.want.col || !strings.Contains(got.Msg, tt.want.contains) {
				t.Errorf("error = %d:%d %q, want %d:%d containing %q", got.Line, got.Column, got.Msg, tt.want.line, tt.want.col, tt.want.contains)
			}
		})
	}
}

func TestIsAdmin(t *testing.T) {
	pol := mustParse(t, doc(`version: "1"`,
		`admins: [alice, "arn:aws:sts::123456789012:assumed-role/SecOps/*"]`,
		"rules: []"))
	tests := []struct {
		name string
		id   ports.Identity
		want bool
	}{
		{"name entry", ports.Identity{Name: "alice", ARN: "arn:aws:iam::123456789012:user/alice", Source: "sts"}, true},
		{"name entry, OS identity", ports.Identity{Name: "alice", Source: "os"}, true},
		{"name is exact", ports.Identity{Name: "alice.admin", ARN: "arn:aws:iam::123456789012:user/alice.admin", Source: "sts"}, false},
		{"ARN pattern", ports.Identity{Name: "bob", ARN: "arn:aws:sts::123456789012:assumed-role/SecOps/bob", Source: "sts"}, true},
		{"ARN pattern is anchored", ports.Identity{Name: "bob", ARN: "arn:aws:sts::123456789012:assumed-role/SecOpsX/bob", Source: "sts"}, false},
		{"another account", ports.Identity{Name: "bob", ARN: "arn:aws:sts::999999999999:assumed-role/SecOps/bob", Source: "sts"}, false},
		{"nobody", ports.Identity{}, false},
	}
	for _, tt := range tests {
		if got := pol.IsAdmin(tt.id); got != tt.want {
			t.Errorf("%s: IsAdmin(%+v) = %v, want %v", tt.name, tt.id, got, tt.want)
		}
	}
	if (*Policy)(nil).IsAdmin(ports.Identity{Name: "alice"}) {
		t.Error("a nil policy has an admin")
	}
	if mustParse(t, doc(`version: "1"`, "rules: []")).IsAdmin(ports.Identity{Name: "alice"}) {
		t.Error("a policy without admins has an admin")
	}
}

func TestLintAdmins(t *testing.T) {
	pol := mustParse(t, doc(`version: "1"`, "rules:", "  - name: a", "    effect: allow",
		"admins: ['sec*', 'arn:aws:iam::*:user/ok']"))
	got := pol.Lint()
	if len(got) != 1 {
		t.Fatalf("Lint = %v, want one warning", got)
	}
	if w := got[0]; w.Line != 5 || w.Rule != "" || !strings.Contains(w.Message, `admins: user "sec*": '*' is a wildcard only in entries that start with "arn:"`) {
		t.Errorf("warning = %+v, want line 5 about the literal '*' in admins", w)
	}
}
