package fakests

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Start serves the same strict STS as New (a known user's signed call is
// answered with its ARN, an unknown key is refused) and Close stops it.
func TestStartServesUntilClose(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:user/bench"
	s, err := Start(WithUser("AKIABENCHUSER0000001", "bench/secret/000000000000000000000000", arn))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	user := &Credentials{AccessKeyID: "AKIABENCHUSER0000001", SecretAccessKey: "bench/secret/000000000000000000000000"}
	status, body := post(t, s, form("GetCallerIdentity"), user)
	if status != http.StatusOK || !strings.Contains(string(body), "<Arn>"+arn+"</Arn>") {
		t.Fatalf("GetCallerIdentity = %d %s, want 200 with %s", status, body, arn)
	}
	stranger := &Credentials{AccessKeyID: "AKIASTRANGER00000001", SecretAccessKey: "x"}
	if status, body := post(t, s, form("GetCallerIdentity"), stranger); status != http.StatusForbidden {
		t.Errorf("an unknown key: %d %s, want 403", status, body)
	}
	s.Close()
	s.Close() // twice is fine
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"/", strings.NewReader("Action=GetCallerIdentity"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Errorf("a request after Close was answered %s", resp.Status)
	}
}
