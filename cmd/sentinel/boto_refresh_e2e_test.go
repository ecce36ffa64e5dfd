package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// botoCallsChild makes argv[2] STS GetCallerIdentity calls with one boto3
// client, as a live program making API calls does, and writes the ARNs it was
// answered. Debian's botocore predates AWS_ENDPOINT_URL_STS, so the endpoint
// is passed explicitly.
const botoCallsChild = `import json, os, sys, boto3
sts = boto3.client("sts", region_name="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL_STS"])
arns = [sts.get_caller_identity()["Arn"] for _ in range(int(sys.argv[2]))]
with open(sys.argv[1], "w") as f:
    json.dump({"arns": arns}, f)
`

// needBoto3 fails under CI, and skips elsewhere, when Debian's boto3 is missing.
func needBoto3(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		testenv.Need(t, "%s not found: install python3-boto3 (scripts/provision.sh does)", debianPython)
	}
	if err := exec.Command(debianPython, "-c", "import boto3").Run(); err != nil {
		testenv.Need(t, "%s cannot import boto3 (%v): install python3-boto3 (scripts/provision.sh does)", debianPython, err)
	}
}

// botoFetches runs a boto3 child making calls API calls under exec --server
// with the given flags, and returns how many credential requests the server
// answered (its decision log's allow lines). The child's calls must all have
// reached STS signed with the credentials the server handed out.
func botoFetches(t *testing.T, calls int, flags ...string) int {
	t.Helper()
	const (
		userARN = "arn:aws:iam::123456789012:user/alice"
		roleARN = "arn:aws:iam::123456789012:role/Deployer"
	)
	sb := newSandbox(t)
	sts := fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, userARN))
	sb.roleProfile("prod", roleARN)
	sb.writePolicy(allowAllPolicy)
	out := filepath.Join(sb.dir, "child.json")
	args := append([]string{"exec", "--server", "--profile", "prod", "--identity-source", "sts",
		"--policy", sb.policy, "--log-file", sb.decisions}, flags...)
	args = append(args, "--", debianPython, "-c", botoCallsChild, out, strconv.Itoa(calls))
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()}, args...)
	if r.code != 0 {
		t.Fatalf("sentinel exec with a boto3 child: %s", r)
	}

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the boto3 child wrote no result: %v\n%s", err, r)
	}
	var child struct{ Arns []string }
	if err := json.Unmarshal(raw, &child); err != nil {
		t.Fatalf("child result %s: %v", raw, err)
	}
	if len(child.Arns) != calls {
		t.Fatalf("the child made %d calls, want %d", len(child.Arns), calls)
	}
	for _, arn := range child.Arns {
		if !strings.Contains(arn, ":assumed-role/Deployer/") {
			t.Fatalf("child call answered as %q, want the role the server assumed", arn)
		}
	}
	var childCalls int
	for _, c := range sts.Calls() {
		if c.Action == "GetCallerIdentity" && c.AccessKeyID != exampleKeyID {
			if c.ErrorCode != "" || !c.HasSessionToken {
				t.Errorf("child call to STS: error %q, session token %v", c.ErrorCode, c.HasSessionToken)
			}
			childCalls++
		}
	}
	if childCalls != calls {
		t.Fatalf("STS saw %d calls signed with served credentials, want the child's %d", childCalls, calls)
	}

	fetches := 0
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
		switch d.Effect {
		case "allow":
			fetches++
		default:
			t.Errorf("decision log line %+v: want only allows", d)
		}
	}
	return fetches
}

// How often a live boto3 program asks the credential server, by served
// duration. botocore refreshes whenever less than 15 minutes are left
// (_DEFAULT_ADVISORY_REFRESH_TIMEOUT in botocore/credentials.py), so an
// Expiration 15 minutes away makes every API call a fetch; a longer one makes
// the client's first fetch last the whole run. The default served duration
// must be of the second kind (docs/revocation.md, "When live SDKs notice a
// revoke", has the figures and the choice).
func TestBotoFetchesPerCallByServedDuration(t *testing.T) {
	t.Parallel()
	needBoto3(t)
	const calls = 20
	tests := []struct {
		name        string
		flags       []string
		min, max    int
		explanation string
	}{
		{"15m", []string{"--server-duration", "15m"}, calls, calls + 1, "every call a fetch: the Expiration is inside botocore's 15-minute advisory window"},
		{"20m", []string{"--server-duration", "20m"}, 1, 2, "one fetch for the run: botocore comes back 5 minutes later"},
		{"30m", []string{"--server-duration", "30m"}, 1, 2, "one fetch for the run"},
		{"60m", []string{"--server-duration", "60m"}, 1, 2, "one fetch for the run"},
		{"default", nil, 1, 2, "the default served duration must lie outside botocore's advisory window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			n := botoFetches(t, calls, tt.flags...)
			t.Logf("served duration %s: %d credential fetches for %d boto3 API calls (%s), in %s",
				tt.name, n, calls, tt.explanation, time.Since(start).Round(time.Millisecond))
			if n < tt.min || n > tt.max {
				t.Errorf("served duration %s: %d credential fetches for %d boto3 API calls, want %d to %d (%s)",
					tt.name, n, calls, tt.min, tt.max, tt.explanation)
			}
		})
	}
}

// botoLiveChild is a live botocore program: it asks its credentials for
// signing keys, as botocore's signer does on every API call, every 200ms for
// argv[2] seconds, and writes one line per call.
const botoLiveChild = `import json, sys, time, boto3
creds = boto3.Session().get_credentials()
end = time.time() + float(sys.argv[2])
with open(sys.argv[1], "a") as f:
    while time.time() < end:
        t = time.time()
        try:
            creds.get_frozen_credentials()
            ok, err = True, ""
        except Exception as e:
            ok, err = False, str(e)
        f.write(json.dumps({"t": t, "ok": ok, "err": err}) + "\n")
        f.flush()
        time.sleep(0.2)
`

type botoCall struct {
	T   float64 `json:"t"`
	OK  bool    `json:"ok"`
	Err string  `json:"err"`
}

// When a live boto3 program learns of a revoke: not at the revoke, but when
// botocore's 15-minute advisory window opens (Expiration - 15m), at its
// next call. The refused fetch is logged and the held credentials used on;
// each later call asks again (docs/revocation.md, "When live SDKs notice a
// revoke"). An Expiration 15m15s ahead puts that moment 15 seconds after the
// fetch.
func TestBotoNoticesARevokeWhenItsAdvisoryWindowOpens(t *testing.T) {
	t.Parallel()
	needBoto3(t)
	const window = 15 * time.Second
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	calls := filepath.Join(sb.dir, "calls.jsonl")
	p := sb.start(nil, append(append([]string{"exec", "--server", "--profile", "dev", "--server-duration", (15*time.Minute + window).String()},
		sb.offlineFlags()...), "--", debianPython, "-c", botoLiveChild, calls, "60")...)
	sess := sb.waitActiveSession(p, "dev")

	var fetched time.Time
	testkit.Eventually(t, 30*time.Second, "the child's first fetch", func() bool {
		for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
			if d.Effect == "allow" {
				fetched = d.Time
				return true
			}
		}
		return false
	})
	rv := sb.run(nil, "server-revoke", sess.ID, "--reason", "test", "--identity-source", "os")
	revoked := time.Now()
	if rv.code != 0 {
		t.Fatalf("server-revoke: %s", rv)
	}
	if revoked.Sub(fetched) > window-3*time.Second {
		// Under CI a machine this slow is a failure, never a silent skip.
		testenv.Need(t, "the revoke returned %s after the fetch, too late on this machine to see the SDK wait for its window", revoked.Sub(fetched))
	}

	var refusals []ports.DecisionRecord
	testkit.Eventually(t, 45*time.Second, "two refused fetches", func() bool {
		refusals = refusals[:0]
		for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
			if d.Effect != "allow" {
				refusals = append(refusals, d)
			}
		}
		return len(refusals) >= 2
	})
	first := refusals[0]
	if !strings.Contains(first.Error, "revoked") {
		t.Errorf("refusal %+v: want the revoke", first)
	}
	after := first.Time.Sub(fetched)
	t.Logf("fetch, revoke returned %s later, first refused fetch %s after the fetch (Expiration %s ahead); %d refusals so far",
		revoked.Sub(fetched).Round(time.Millisecond), after.Round(time.Millisecond), 15*time.Minute+window, len(refusals))
	// The served Expiration has whole seconds, so the window opens up to a
	// second early.
	if after < window-2*time.Second || after > window+10*time.Second {
		t.Errorf("boto3 asked again %s after its fetch, want at its advisory window, %s (the Expiration less 15 minutes)", after, window)
	}

	// Meanwhile, and after the refusal, the child's calls went on with the
	// credentials it held: an advisory refresh that fails is not an error.
	testkit.Eventually(t, 20*time.Second, "a call after the refusal", func() bool {
		for _, c := range testkit.ReadJSONLines[botoCall](t, calls) {
			if c.T > float64(first.Time.UnixNano())/1e9 {
				return true
			}
		}
		return false
	})
	for _, c := range testkit.ReadJSONLines[botoCall](t, calls) {
		if !c.OK {
			t.Errorf("a call failed inside the advisory window: %s", c.Err)
		}
	}
}
