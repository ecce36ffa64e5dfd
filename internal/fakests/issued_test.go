package fakests

import (
	"net/http"
	"testing"
)

func TestIssuedByKnowsOnlyWhatItIssued(t *testing.T) {
	s := New(t)
	if status, body := post(t, s, form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/Deploy", "RoleSessionName", "sess-1"), signed); status != http.StatusOK {
		t.Fatalf("AssumeRole: %d %s", status, body)
	}
	if status, body := post(t, s, form("GetSessionToken"), signed); status != http.StatusOK {
		t.Fatalf("GetSessionToken: %d %s", status, body)
	}
	calls := s.Calls()
	role, token := calls[0].Issued, calls[1].Issued
	if action, exp, ok := s.IssuedBy(role.AccessKeyID, role.SecretAccessKey, role.SessionToken); !ok || action != "AssumeRole" || !exp.Equal(role.Expiration) {
		t.Errorf("role credentials: %q %v %v, want AssumeRole %v", action, exp, ok, role.Expiration)
	}
	if action, _, ok := s.IssuedBy(token.AccessKeyID, token.SecretAccessKey, token.SessionToken); !ok || action != "GetSessionToken" {
		t.Errorf("session-token credentials: %q %v, want GetSessionToken", action, ok)
	}
	for name, c := range map[string][3]string{
		"wrong secret":  {role.AccessKeyID, token.SecretAccessKey, role.SessionToken},
		"wrong token":   {role.AccessKeyID, role.SecretAccessKey, token.SessionToken},
		"unknown key":   {"ASIAUNKNOWN0000000000", role.SecretAccessKey, role.SessionToken},
		"caller's keys": {"AKIATESTEXAMPLE00001", "secret", ""},
	} {
		if action, _, ok := s.IssuedBy(c[0], c[1], c[2]); ok {
			t.Errorf("%s: accepted as issued by %s", name, action)
		}
	}
}
