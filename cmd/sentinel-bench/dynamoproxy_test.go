package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The proxy forwards each call unchanged (path, body, headers, answer) and
// counts it by the operation its X-Amz-Target names.
func TestCountingProxyForwardsAndCounts(t *testing.T) {
	var gotTargets []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gotTargets = append(gotTargets, r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"echo":` + string(body) + `}`))
	}))
	defer backend.Close()
	p, err := startCountingProxy(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	call := func(target string) string {
		req, err := http.NewRequest(http.MethodPost, p.url+"/", strings.NewReader(`{"TableName":"t"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := call("DynamoDB_20120810.GetItem"); got != `{"echo":{"TableName":"t"}}` {
		t.Errorf("answer through the proxy = %q", got)
	}
	call("DynamoDB_20120810.GetItem")
	call("DynamoDB_20120810.Query")
	counts := p.snapshot()
	if len(counts) != 2 || counts["GetItem"] != 2 || counts["Query"] != 1 {
		t.Errorf("counts = %v, want GetItem 2 and Query 1", counts)
	}
	if len(gotTargets) != 3 || gotTargets[2] != "DynamoDB_20120810.Query" {
		t.Errorf("the backend saw %v", gotTargets)
	}
}

func TestThroughProxyReplacesOnlyTheEndpoint(t *testing.T) {
	p := &countingProxy{url: "http://127.0.0.1:4242"}
	got, err := throughProxy("dynamodb://sessions?region=eu-west-1&endpoint=http://127.0.0.1:8000", p)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "dynamodb" || u.Host != "sessions" || u.Query().Get("region") != "eu-west-1" || u.Query().Get("endpoint") != p.url {
		t.Errorf("throughProxy = %s", got)
	}
}
