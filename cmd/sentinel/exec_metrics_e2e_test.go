package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

const (
	childMetrics = "metrics"
	// childMetricsURLEnv is the /metrics URL the metrics child scrapes.
	childMetricsURLEnv = "SENTINEL_E2E_METRICS_URL"
	// childPolicyEnv is the policy file the metrics child edits.
	childPolicyEnv = "SENTINEL_E2E_POLICY"
)

// The child's two policy edits: one that does not parse, then a deny.
const (
	brokenPolicy  = "version: \"1\"\nrules:\n  - name: x\n    effect: alow\n"
	denyAllPolicy = `version: "1"
rules:
  - name: closed
    effect: deny
    reason: closed by the test
`
)

// exec --server --metrics-listen: a real SDK client fetches credentials
// while the policy file is edited under the running server (an invalid edit,
// then a deny), and a real HTTP client scrapes /metrics. The counters match
// what the child saw: 4 served, 1 refused, 1 refused reload, and the deny
// policy's version in force; the decision log names the policy version of
// every decision.
func TestExecServerMetricsAndPolicyReload(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	addr := freeLoopbackAddr(t)
	out := filepath.Join(sb.dir, "metrics.txt")
	r := sb.run(map[string]string{childModeEnv: childMetrics, childOutEnv: out,
		childMetricsURLEnv: "http://" + addr + "/metrics", childPolicyEnv: sb.policy},
		append(append([]string{"exec", "--server", "--profile", "dev", "--metrics-listen", addr}, sb.offlineFlags()...), "--", childCommand(t))...)
	if r.code != 0 {
		t.Fatalf("exec --server --metrics-listen: %s", r)
	}
	if !strings.Contains(r.stderr, "metrics at http://"+addr+"/metrics") {
		t.Errorf("stderr does not say where the metrics are:\n%s", r.stderr)
	}
	// The refused reload is logged loudly (at error, shown at the default level).
	if !strings.Contains(r.stderr, "policy reload refused") || !strings.Contains(r.stderr, policy.HashOf([]byte(allowAllPolicy))) {
		t.Errorf("stderr does not log the refused reload with the version kept:\n%s", r.stderr)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	families := parseMetrics(t, string(data))
	counter := func(name string, labels map[string]string) float64 {
		t.Helper()
		m := findMetric(families, name, labels)
		if m == nil {
			t.Errorf("no %s%v in the scrape", name, labels)
			return -1
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sentinel_credential_requests_total", map[string]string{"outcome": "allow", "mode": "server"}, 4},
		{"sentinel_credential_requests_total", map[string]string{"outcome": "deny", "mode": "server"}, 1},
		{"sentinel_policy_load_errors_total", nil, 1},
		{"sentinel_policy_info", map[string]string{"version": policy.HashOf([]byte(denyAllPolicy))}, 1},
		{"sentinel_credential_request_duration_seconds", nil, 5},
		{"sentinel_store_operation_duration_seconds", map[string]string{"operation": "CreateSession"}, 1},
	} {
		if got := counter(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(families["sentinel_policy_info"].GetMetric()); n != 1 {
		t.Errorf("%d sentinel_policy_info series, want only the version in force", n)
	}

	versions := map[string]int{}
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
		versions[d.PolicyVersion+" "+d.Outcome]++
	}
	want := map[string]int{
		policy.HashOf([]byte(allowAllPolicy)) + " allow": 4,
		policy.HashOf([]byte(denyAllPolicy)) + " deny":   1,
	}
	if fmt.Sprint(versions) != fmt.Sprint(want) {
		t.Errorf("decision log (policy_version outcome: count) = %v, want %v", versions, want)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func parseMetrics(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape is not the Prometheus text format: %v\n%s", err, text)
	}
	return families
}

// findMetric is the series of name whose labels include labels.
func findMetric(families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	for _, m := range families[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if match {
			return m
		}
	}
	return nil
}

// metricsChild: 3 requests; an invalid policy edit, waited for in the
// metrics, then a request (still served); a deny edit, waited for, then a
// request (refused); then one last scrape, written to childOutEnv.
func metricsChild() int {
	if err := runMetricsChild(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e metrics child:", err)
		return 2
	}
	return 0
}

func runMetricsChild() error {
	url, policyPath := os.Getenv(childMetricsURLEnv), os.Getenv(childPolicyEnv)
	provider := endpointcreds.New(os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"), func(o *endpointcreds.Options) {
		o.AuthorizationToken = os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		o.Retryer = aws.NopRetryer{}
	})
	request := func(wantOK bool) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := provider.Retrieve(ctx)
		switch {
		case wantOK && err != nil:
			return fmt.Errorf("request refused, want served: %w", err)
		case !wantOK && err == nil:
			return errors.New("request served, want refused")
		}
		return nil
	}
	scrape := func() (string, error) {
		res, err := http.Get(url)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", url, res.Status)
		}
		return string(body), err
	}
	// waitFor scrapes until a line starts with line: the watcher has seen the edit.
	waitFor := func(line string) error {
		deadline := time.Now().Add(15 * time.Second)
		for {
			text, err := scrape()
			if err != nil {
				return err
			}
			if strings.Contains("\n"+text, "\n"+line) {
				return nil
			}
			if time.Now().After(deadline) {
				return errors.New("the metrics never showed " + line)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for range 3 {
		if err := request(true); err != nil {
			return err
		}
	}
	// Each edit replaces the file whole (write, then rename), so the counts
	// below cannot include a read of a half-written file.
	if err := replaceFile(policyPath, brokenPolicy); err != nil {
		return err
	}
	if err := waitFor("sentinel_policy_load_errors_total 1"); err != nil {
		return err
	}
	if err := request(true); err != nil {
		return fmt.Errorf("after an invalid edit (the last valid policy stays): %w", err)
	}
	if err := replaceFile(policyPath, denyAllPolicy); err != nil {
		return err
	}
	if err := waitFor(`sentinel_policy_info{version="` + policy.HashOf([]byte(denyAllPolicy)) + `"} 1`); err != nil {
		return err
	}
	if err := request(false); err != nil {
		return fmt.Errorf("after the deny edit: %w", err)
	}
	text, err := scrape()
	if err != nil {
		return err
	}
	return os.WriteFile(os.Getenv(childOutEnv), []byte(text), 0o600)
}

func replaceFile(path, content string) error {
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
