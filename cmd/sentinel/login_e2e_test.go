package main

import (
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/fakesignin"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// loginWorld is a sandbox with a role profile "prod" (region eu-west-1), the
// STS stand-in and the sign-in stand-in.
type loginWorld struct {
	sb  *sandbox
	sts *fakests.Server
	fed *fakesignin.Server
	env map[string]string
}

func newLoginWorld(t *testing.T, policy string) *loginWorld {
	t.Helper()
	w := &loginWorld{sb: newSandbox(t)}
	w.sts = fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, "arn:aws:iam::123456789012:user/alice"))
	w.fed = fakesignin.New(t, w.sts, nil)
	w.sb.writeAWS(
		"[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/Console\nsource_profile = base\nregion = eu-west-1\n\n"+
			"[profile base]\nregion = eu-west-1\n\n[profile keys]\nregion = eu-west-1\n",
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n\n"+
			"[keys]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
	)
	w.sb.writePolicy(policy)
	w.env = map[string]string{"AWS_ENDPOINT_URL_STS": w.sts.URL(), "AWS_ENDPOINT_URL_SIGNIN": w.fed.URL()}
	return w
}

func (w *loginWorld) login(extra map[string]string, args ...string) result {
	w.sb.t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	base := []string{"login", "--identity-source", "sts", "--policy", w.sb.policy, "--log-file", w.sb.decisions}
	return w.sb.run(env, append(base, args...)...)
}

const consolePolicy = `version: "1"
rules:
  - name: no-console-for-keys
    effect: deny
    conditions:
      profiles: [prod]
      mode: [cli]
  - name: prod-console
    effect: allow
    max_server_duration: 20m
    conditions:
      profiles: [prod]
      mode: [console]
  - name: keys-anywhere
    effect: allow
    conditions:
      profiles: [keys]
`

// checkLoginURL parses the one line on stdout and checks it against the
// sign-in stand-in's one successful answer.
func checkLoginURL(t *testing.T, w *loginWorld, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want the URL alone: %s", len(lines), r)
	}
	u, err := url.Parse(lines[0])
	if err != nil {
		t.Fatalf("stdout is not a URL: %v", err)
	}
	calls := w.fed.Calls()
	if len(calls) != 1 || calls[0].SigninToken == "" {
		t.Fatalf("federation calls = %+v, want one answered with a token", calls)
	}
	q := u.Query()
	const wantDest = "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
	if u.Scheme+"://"+u.Host != w.fed.URL() || u.Path != "/federation" || q.Get("Action") != "login" ||
		q.Get("Issuer") != "sentinel" || q.Get("Destination") != wantDest || q.Get("SigninToken") != calls[0].SigninToken {
		t.Errorf("login URL = %s, want the federation endpoint, Action=login, Destination %s and the token answered", u, wantDest)
	}
	if strings.Contains(r.stderr, calls[0].SigninToken) {
		t.Errorf("the sign-in token reached stderr: %s", r.stderr)
	}
	// The console session is the capped duration: the rule's 20m, not --duration 1h.
	if calls[0].SessionDuration != "1200" {
		t.Errorf("SessionDuration sent = %q, want 1200 (max_server_duration 20m caps --duration 1h)", calls[0].SessionDuration)
	}
}

func TestLoginPrintsCappedSigninURL(t *testing.T) {
	t.Parallel()
	w := newLoginWorld(t, consolePolicy)
	r := w.login(nil, "--profile", "prod", "--duration", "1h", "--stdout")
	if r.code != 0 {
		t.Fatalf("sentinel login: %s", r)
	}
	checkLoginURL(t, w, r)

	var assumes []fakests.Call
	for _, c := range w.sts.Calls() {
		if c.Action == "AssumeRole" {
			assumes = append(assumes, c)
		}
	}
	if len(assumes) != 1 || assumes[0].Params["DurationSeconds"] != "1200" || assumes[0].Issued == nil ||
		assumes[0].Issued.AccessKeyID != w.fed.Calls()[0].AccessKeyID {
		t.Errorf("AssumeRole calls = %+v, want one for 1200 s whose credentials were federated", assumes)
	}
	decisions := testkit.ReadJSONLines[ports.DecisionRecord](t, w.sb.decisions)
	if len(decisions) != 1 || decisions[0].Mode != "console" || decisions[0].Effect != "allow" ||
		decisions[0].Rule != "prod-console" || decisions[0].ServedDuration != "20m0s" {
		t.Errorf("decision log = %+v, want one console allow by prod-console serving 20m0s", decisions)
	}
	raw, err := os.ReadFile(w.sb.decisions)
	if err != nil {
		t.Fatal(err)
	}
	log := string(raw)
	if strings.Contains(log, w.fed.Calls()[0].SigninToken) || strings.Contains(log, assumes[0].Issued.SecretAccessKey) {
		t.Errorf("the decision log carries a secret: %s", log)
	}
}

func TestLoginWithoutBrowserPrintsURL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Windows opener is found without PATH")
	}
	t.Parallel()
	w := newLoginWorld(t, consolePolicy)
	// No opener on PATH: sentinel says so and prints the URL on stdout.
	r := w.login(map[string]string{"PATH": w.sb.dir}, "--profile", "prod", "--duration", "1h")
	if r.code != 0 || !strings.Contains(r.stderr, "could not open a browser") {
		t.Fatalf("want exit 0 saying no browser could be opened: %s", r)
	}
	checkLoginURL(t, w, r)
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	t.Run("policy deny names the rule", func(t *testing.T) {
		w := newLoginWorld(t, `version: "1"
rules:
  - name: no-console-for-prod
    effect: deny
    reason: prod has no console access
    conditions:
      profiles: [prod]
      mode: [console]
  - name: allow-rest
    effect: allow
`)
		r := w.login(nil, "--profile", "prod", "--stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "no-console-for-prod") || r.stdout != "" {
			t.Errorf("want exit 1 naming rule no-console-for-prod, nothing on stdout: %s", r)
		}
		if n := len(w.fed.Calls()); n != 0 {
			t.Errorf("%d federation calls after a deny", n)
		}
		if d := testkit.ReadJSONLines[ports.DecisionRecord](t, w.sb.decisions); len(d) != 1 || d[0].Mode != "console" || d[0].Effect != "deny" {
			t.Errorf("decision log = %+v, want one console deny", d)
		}
	})
	t.Run("require_server denies console", func(t *testing.T) {
		w := newLoginWorld(t, `version: "1"
rules:
  - name: prod-server-only
    effect: require_server
`)
		r := w.login(nil, "--profile", "prod", "--stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "prod-server-only") || r.stdout != "" || len(w.fed.Calls()) != 0 {
			t.Errorf("want exit 1 naming prod-server-only and no federation call: %s", r)
		}
	})
	t.Run("long-lived keys", func(t *testing.T) {
		w := newLoginWorld(t, consolePolicy)
		r := w.login(nil, "--profile", "keys", "--stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "does not assume a role") || !strings.Contains(r.stderr, "role_arn") || r.stdout != "" {
			t.Errorf("want exit 1 saying the profile does not assume a role: %s", r)
		}
		if strings.Contains(r.stderr, exampleSecret) {
			t.Errorf("the secret reached stderr: %s", r.stderr)
		}
		if n := len(w.fed.Calls()); n != 0 {
			t.Errorf("%d federation calls for long-lived keys", n)
		}
	})
	t.Run("cap below the console minimum", func(t *testing.T) {
		w := newLoginWorld(t, strings.Replace(consolePolicy, "max_server_duration: 20m", "max_server_duration: 10m", 1))
		r := w.login(nil, "--profile", "prod", "--stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "shorter than the AWS console's shortest session") || r.stdout != "" || len(w.fed.Calls()) != 0 {
			t.Errorf("want exit 1 saying 10m is below the console's 15m: %s", r)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		w := newLoginWorld(t, consolePolicy)
		for _, args := range [][]string{
			{"--profile", "prod", "--duration", "5m"},
			{"--profile", "prod", "--duration", "13h"},
			{"--profile", "prod", "--destination", "https://evil.example/"},
			{"--duration", "1h"},
		} {
			if r := w.login(nil, append(args, "--stdout")...); r.code != 2 || r.stdout != "" {
				t.Errorf("%v: want exit 2: %s", args, r)
			}
		}
		if n := len(w.sts.Calls()) + len(w.fed.Calls()); n != 0 {
			t.Errorf("%d calls for refused arguments", n)
		}
	})
}
