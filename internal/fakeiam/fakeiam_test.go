package fakeiam

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Unsigned requests are refused before anything is read or written.
func TestUnsigned(t *testing.T) {
	s := New(t, WithRole("Deployer"))
	form := url.Values{"Action": {"PutRolePolicy"}, "Version": {APIVersion}, "RoleName": {"Deployer"},
		"PolicyName": {"n"}, "PolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`}}
	resp, err := http.Post(s.URL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("unsigned: HTTP %d %s", resp.StatusCode, body)
	}
	if len(s.RolePolicies("Deployer")) != 0 {
		t.Fatal("an unsigned request wrote a policy")
	}
}

// IAM counts a document's characters without whitespace.
func TestSize(t *testing.T) {
	if got := size("{ \"a\" :\n\t1 }"); got != 7 {
		t.Fatalf("size = %d, want 7", got)
	}
	store := map[string]string{"old": strings.Repeat("x", RoleInlineMax-60)}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	if e := put("role", map[string]string{"RoleName": "r", "PolicyName": "n", "PolicyDocument": doc}, store, RoleInlineMax); e == nil || e.code != "LimitExceeded" || e.status != http.StatusConflict {
		t.Fatalf("over the quota: %+v, want 409 LimitExceeded", e)
	}
	padded := strings.ReplaceAll(doc, ",", ",     \n")
	store = map[string]string{"old": strings.Repeat("x", RoleInlineMax-size(doc))}
	if e := put("role", map[string]string{"RoleName": "r", "PolicyName": "n", "PolicyDocument": padded}, store, RoleInlineMax); e != nil {
		t.Fatalf("exactly at the quota with whitespace: %+v", e)
	}
}

func TestCheckDocument(t *testing.T) {
	for doc, want := range map[string]string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"x*"}}}]}`: "",
		`not json`: "Syntax errors in policy.",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*"}]}`:                                               "Policy statement must contain resources.",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`:                               "Policy statement must contain a valid Effect (Allow or Deny).",
		`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`:                                                       "The policy must contain a valid version string",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringSorta":{}}}]}`: "Invalid Condition type : StringSorta",
	} {
		if got := checkDocument(doc); got != want {
			t.Errorf("checkDocument(%s) = %q, want %q", doc, got, want)
		}
	}
}
