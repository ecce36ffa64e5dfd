package fakesignin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

const role = "arn:aws:iam::111122223333:role/Console"

func get(t *testing.T, base string, q url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/federation?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func sessionJSON(c fakests.Credentials) string {
	b, _ := json.Marshal(map[string]string{"sessionId": c.AccessKeyID, "sessionKey": c.SecretAccessKey, "sessionToken": c.SessionToken})
	return string(b)
}

func TestGetSigninTokenForRoleCredentials(t *testing.T) {
	sts := fakests.New(t)
	s := New(t, sts, nil)
	creds := sts.AssumeRole(t, role, 3600)
	status, body := get(t, s.URL(), url.Values{"Action": {"getSigninToken"}, "SessionDuration": {"1800"}, "Session": {sessionJSON(creds)}})
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var answer map[string]string
	if err := json.Unmarshal(body, &answer); err != nil || answer["SigninToken"] == "" || len(answer) != 1 {
		t.Fatalf("answer %s (%v), want {\"SigninToken\": ...}", body, err)
	}
	calls := s.Calls()
	if len(calls) != 1 || calls[0].SessionDuration != "1800" || calls[0].AccessKeyID != creds.AccessKeyID || calls[0].SigninToken != answer["SigninToken"] {
		t.Errorf("calls = %+v", calls)
	}
}

// Every request AWS would refuse is answered 400 (404/405 for the wrong
// path or method) and gets no token.
func TestRefusesWhatAWSRefuses(t *testing.T) {
	clock := ports.NewFakeClock(time.Now())
	sts := fakests.New(t, fakests.WithClock(clock))
	s := New(t, sts, clock)
	good := sts.AssumeRole(t, role, 900)
	expired := sts.AssumeRole(t, role, 900)
	userSession := sts.GetSessionToken(t)
	forged := good
	forged.SecretAccessKey = "not-the-secret"

	q := func(kv ...string) url.Values {
		v := url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(good)}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name string
		q    url.Values
	}{
		{"wrong action", q("Action", "getSignInToken")},
		{"no session", url.Values{"Action": {"getSigninToken"}}},
		{"session not JSON", q("Session", "key:secret")},
		{"session missing token", q("Session", `{"sessionId":"`+good.AccessKeyID+`","sessionKey":"`+good.SecretAccessKey+`"}`)},
		{"session with extra field", q("Session", `{"sessionId":"a","sessionKey":"b","sessionToken":"c","x":1}`)},
		{"forged secret", q("Session", sessionJSON(forged))},
		{"GetSessionToken credentials", q("Session", sessionJSON(userSession))},
		{"duration below 900", q("SessionDuration", "899")},
		{"duration above 43200", q("SessionDuration", "43201")},
		{"duration not a number", q("SessionDuration", "1h")},
		{"duration twice", url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(good)}, "SessionDuration": {"900", "1200"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := get(t, s.URL(), tt.q); status != http.StatusBadRequest {
				t.Errorf("status %d (%s), want 400", status, body)
			}
		})
	}
	clock.Advance(901 * time.Second)
	if status, _ := get(t, s.URL(), q("Session", sessionJSON(expired))); status != http.StatusBadRequest {
		t.Errorf("expired credentials: status %d, want 400", status)
	}
	for _, c := range s.Calls() {
		if c.SigninToken != "" {
			t.Errorf("a refused request got a token: %+v", c)
		}
	}
	// The same server still answers good input (the checks above are not a broken server).
	clock.Set(time.Now())
	fresh := sts.AssumeRole(t, role, 900)
	if status, body := get(t, s.URL(), q("Session", sessionJSON(fresh), "SessionDuration", "900")); status != http.StatusOK {
		t.Errorf("good request after refusals: %d %s", status, body)
	}
}
