package signin

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakesignin"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

const role = "arn:aws:iam::111122223333:role/Console"

func creds(c fakests.Credentials) ports.Credentials {
	return ports.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expires: c.Expiration}
}

// noSecrets fails when msg carries any secret part of c, or token.
func noSecrets(t *testing.T, msg string, c ports.Credentials, token string) {
	t.Helper()
	for _, secret := range []string{c.SecretAccessKey, c.SessionToken, url.QueryEscape(c.SecretAccessKey), url.QueryEscape(c.SessionToken), token} {
		if secret != "" && strings.Contains(msg, secret) {
			t.Errorf("message carries a secret: %s", msg)
		}
	}
}

func TestSigninTokenAndLoginURL(t *testing.T) {
	sts := fakests.New(t)
	fed := fakesignin.New(t, sts, nil)
	c, err := New(Options{Endpoint: fed.URL(), Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := c.SigninToken(context.Background(), creds(sts.AssumeRole(t, role, 3600)), 20*time.Minute)
	if err != nil {
		t.Fatalf("SigninToken: %v", err)
	}
	calls := fed.Calls()
	if len(calls) != 1 || calls[0].SigninToken != token || calls[0].SessionDuration != "1200" {
		t.Fatalf("federation calls = %+v, want one with SessionDuration 1200 answering %q", calls, token)
	}
	dest, err := c.Destination("")
	if err != nil || dest != "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1" {
		t.Fatalf("Destination = %q, %v", dest, err)
	}
	u, err := url.Parse(c.LoginURL("sentinel", dest, token))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host != fed.URL() || u.Path != "/federation" || q.Get("Action") != "login" ||
		q.Get("Issuer") != "sentinel" || q.Get("Destination") != dest || q.Get("SigninToken") != token {
		t.Errorf("login URL = %s", u)
	}
}

func TestSigninTokenErrorsCarryNoSecret(t *testing.T) {
	sts := fakests.New(t)
	fed := fakesignin.New(t, sts, nil)
	c, err := New(Options{Endpoint: fed.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Long-lived-user session credentials: the endpoint answers 400.
	user := creds(sts.GetSessionToken(t))
	_, err = c.SigninToken(ctx, user, time.Hour)
	if !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("GetSessionToken credentials: %v, want ErrInvalidArgument naming HTTP 400", err)
	}
	noSecrets(t, err.Error(), user, "")

	// A connection that fails: the *url.Error would print the query.
	roleCreds := creds(sts.AssumeRole(t, role, 3600))
	down, err := New(Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = down.SigninToken(ctx, roleCreds, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/federation") {
		t.Fatalf("unreachable endpoint: %v", err)
	}
	noSecrets(t, err.Error(), roleCreds, "")

	// Refused before any call: no session token, or a duration AWS refuses.
	before := len(fed.Calls())
	for _, d := range []time.Duration{899 * time.Second, 12*time.Hour + time.Second, 1000*time.Second + time.Millisecond} {
		if _, err := c.SigninToken(ctx, roleCreds, d); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("duration %s: %v, want ErrInvalidArgument", d, err)
		}
	}
	long := roleCreds
	long.SessionToken = ""
	if _, err := c.SigninToken(ctx, long, time.Hour); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("no session token: %v, want ErrInvalidArgument", err)
	} else {
		noSecrets(t, err.Error(), roleCreds, "")
	}
	if n := len(fed.Calls()); n != before {
		t.Errorf("%d calls made for requests the client should refuse itself", n-before)
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string // "" means an error
	}{
		{"token", 200, `{"SigninToken":"abc"}`, "abc"},
		{"token and other fields", 200, `{"SigninToken":"abc","Other":1}`, "abc"},
		{"empty token", 200, `{"SigninToken":""}`, ""},
		{"no token", 200, `{}`, ""},
		{"token not a string", 200, `{"SigninToken":5}`, ""},
		{"not JSON", 200, `<html>`, ""},
		{"trailing data", 200, `{"SigninToken":"abc"}{"SigninToken":"def"}`, ""},
		{"bad request", 400, `{"SigninToken":"abc"}`, ""},
		{"server error", 500, `{"SigninToken":"abc"}`, ""},
		{"too long", 200, `{"SigninToken":"` + strings.Repeat("a", maxBody) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAnswer("https://signin.example/federation", tt.status, []byte(tt.body))
			if tt.want == "" {
				if err == nil {
					t.Errorf("got token %q, want an error", got)
				} else if strings.Contains(err.Error(), "abc") {
					t.Errorf("error echoes the body: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewRefusesUnsafeEndpoints(t *testing.T) {
	for _, bad := range []string{"http://signin.example.com", "ftp://127.0.0.1", "https://", "https://h/?x=1", "not a url"} {
		if _, err := New(Options{Endpoint: bad}); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("New(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	for endpoint, want := range map[string]string{
		"":                       "https://signin.aws.amazon.com/federation",
		"http://127.0.0.1:8080/": "http://127.0.0.1:8080/federation",
		"http://localhost:1":     "http://localhost:1/federation",
		"https://signin.example": "https://signin.example/federation",
	} {
		c, err := New(Options{Endpoint: endpoint})
		if err != nil || c.Endpoint() != want {
			t.Errorf("New(%q) endpoint = %v, %v; want %s", endpoint, c, err, want)
		}
	}
	if c, _ := New(Options{Region: "cn-north-1"}); c.Endpoint() != "https://signin.amazonaws.cn/federation" {
		t.Errorf("cn-north-1 endpoint = %s", c.Endpoint())
	}
}

func TestDestination(t *testing.T) {
	c, err := New(Options{Region: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/s3/home":                       "https://us-west-2.console.aws.amazon.com/s3/home",
		"/ec2/home?region=us-west-2#Ins": "https://us-west-2.console.aws.amazon.com/ec2/home?region=us-west-2#Ins",
	} {
		if got, err := c.Destination(path); err != nil || got != want {
			t.Errorf("Destination(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, bad := range []string{"s3/home", "//evil.example/x", "https://evil.example/", "/\x7f"} {
		if got, err := c.Destination(bad); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("Destination(%q) = %q, %v; want ErrInvalidArgument", bad, got, err)
		}
	}
	noRegion, _ := New(Options{})
	if got, _ := noRegion.Destination(""); got != "https://console.aws.amazon.com/console/home" {
		t.Errorf("no region: %q", got)
	}
}
