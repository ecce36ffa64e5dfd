package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// Each way a waited-for request ends has its own exit code and line,
// expired included (the end-to-end test cannot wait out a 24h deadline).
func TestRequestWaitOutcome(t *testing.T) {
	tests := []struct {
		status ports.RequestStatus
		code   int
		line   string
	}{
		{ports.RequestApproved, exitOK, "request r1 approved by bob: alice may use prod until "},
		{ports.RequestDenied, exitDenied, "request r1 denied by bob (\"not today\")"},
		{ports.RequestCancelled, exitCancelled, "request r1 cancelled by alice"},
		{ports.RequestExpired, exitExpired, "request r1 expired"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		r := ports.ApprovalRequest{ID: "r1", Requester: "alice", Profile: "prod", Status: tt.status}
		switch tt.status {
		case ports.RequestApproved:
			r.Approver = "bob"
		case ports.RequestDenied:
			r.Approver, r.ApproverComment = "bob", "not today"
		case ports.RequestCancelled:
			r.CancelledBy = "alice"
		}
		err := (&RequestCmd{Output: "table"}).waitOutcome(&Env{Stdout: &out}, r)
		code := exitOK
		var ce exitCodeError
		if errors.As(err, &ce) {
			code = ce.code
		} else if err != nil {
			t.Fatalf("%s: %v", tt.status, err)
		}
		if code != tt.code || !strings.HasPrefix(out.String(), tt.line) {
			t.Errorf("%s: exit %d, %q; want exit %d, %q", tt.status, code, out.String(), tt.code, tt.line)
		}
	}
}
