package brokerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
)

// secretDetail stands for text that must stay in the broker's log: an STS
// answer, a store address.
const secretDetail = "AccessDenied: User arn:aws:iam::999:user/broker is not authorized; host 10.9.8.7"

var (
	testLock = ports.Lock{ID: "0123456789abcdef0123456789abcdef", Kind: ports.LockUser, Target: "alice", Reason: "incident 42",
		CreatedBy: "sec", CreatedAt: testInstant, ExpiresAt: testInstant.Add(ports.ProofMaxAge), Version: 1}
	testDenied = &gateway.DeniedError{Profile: "prod", Rule: "prod-approvals", Reason: "needs approval",
		RequiresApproval: true, RequiresServerMode: true, RequiresSessionTracking: true, RequiresSessionStore: "dynamodb"}
	testRevoked = &gateway.RevokedError{SessionID: "s-1", By: "security", Reason: "compromised laptop", At: testInstant}
)

// errorCases: each service error, the status and code served, and what
// the client's error must satisfy after the round trip.
var errorCases = []struct {
	name   string
	err    error
	status int
	code   string
	check  func(t *testing.T, got error)
}{
	{"denied", fmt.Errorf("issue: %w", testDenied), 403, CodeDenied, func(t *testing.T, got error) {
		d, ok := errors.AsType[*gateway.DeniedError](got)
		if !ok || !reflect.DeepEqual(d, testDenied) {
			t.Fatalf("got %#v, want %#v", d, testDenied)
		}
	}},
	{"locked", &gateway.LockedError{Lock: testLock}, 403, CodeLocked, func(t *testing.T, got error) {
		l, ok := errors.AsType[*gateway.LockedError](got)
		if !ok || !reflect.DeepEqual(l.Lock, testLock) {
			t.Fatalf("got %#v", got)
		}
	}},
	{"revoked", testRevoked, 403, CodeRevoked, func(t *testing.T, got error) {
		r, ok := errors.AsType[*gateway.RevokedError](got)
		if !ok || !reflect.DeepEqual(r, testRevoked) {
			t.Fatalf("got %#v, want %#v", got, testRevoked)
		}
	}},
	{"expired", &gateway.SessionEndedError{SessionID: "s-2"}, 403, CodeExpired, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*gateway.SessionEndedError](got); !ok || e.SessionID != "s-2" {
			t.Fatalf("got %#v", got)
		}
	}},
	{"store unavailable", &gateway.StoreError{Err: fmt.Errorf("%s: %w", secretDetail, ports.ErrUnavailable)}, 503, CodeStore, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*gateway.StoreError](got); !ok || e.Corrupt || e.Missing || !errors.Is(got, ports.ErrUnavailable) {
			t.Fatalf("got %#v", got)
		}
	}},
	{"store record missing", &gateway.StoreError{Missing: true, Err: ports.ErrNotFound}, 503, CodeStore, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*gateway.StoreError](got); !ok || !e.Missing {
			t.Fatalf("got %#v", got)
		}
	}},
	{"store record corrupt", &gateway.StoreError{Corrupt: true, Err: ports.ErrCorrupt}, 503, CodeStore, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*gateway.StoreError](got); !ok || !e.Corrupt || !errors.Is(got, ports.ErrCorrupt) {
			t.Fatalf("got %#v", got)
		}
	}},
	{"source", &gateway.SourceError{Profile: "prod", Err: errors.New(secretDetail)}, 502, CodeSource, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*gateway.SourceError](got); !ok || e.Profile != "prod" {
			t.Fatalf("got %#v", got)
		}
	}},
	{"not recorded", workflow.NotRecordedError{What: "request", Err: fmt.Errorf("%s: %w", secretDetail, ports.ErrUnavailable)}, 503, CodeNotRecorded, func(t *testing.T, got error) {
		if e, ok := errors.AsType[workflow.NotRecordedError](got); !ok || e.What != "request" || !errors.Is(got, ports.ErrUnavailable) {
			t.Fatalf("got %#v", got)
		}
	}},
	{"forbidden", fmt.Errorf("revoke s-1: not an admin: %w", ports.ErrForbidden), 403, CodeForbidden, isAll(ports.ErrForbidden, policy.ErrForbidden)},
	{"policy forbidden", fmt.Errorf("approve r-1: you cannot approve your own request: %w", policy.ErrForbidden), 403, CodeForbidden, isAll(ports.ErrForbidden, policy.ErrForbidden)},
	{"rate limited", fmt.Errorf("cooldown until 10:00: %w: %w", breakglass.ErrRateLimited, breakglass.ErrForbidden), 403, CodeRateLimited,
		isAll(breakglass.ErrRateLimited, policy.ErrForbidden, ports.ErrForbidden)},
	{"unauthenticated", fmt.Errorf("caller has no ARN: %w", ports.ErrUnauthenticated), 401, CodeUnauthenticated, isAll(ports.ErrUnauthenticated)},
	{"not found", fmt.Errorf("session abc: %w", ports.ErrNotFound), 404, CodeNotFound, isAll(ports.ErrNotFound)},
	{"invalid argument", fmt.Errorf("duration 10s is too short: %w", ports.ErrInvalidArgument), 400, CodeInvalidArgument, isAll(ports.ErrInvalidArgument)},
	{"conflict", fmt.Errorf("update: %w", ports.ErrConflict), 409, CodeConflict, isAll(ports.ErrConflict)},
	{"already exists", fmt.Errorf("break-glass e-1 still active: %w", ports.ErrAlreadyExists), 409, CodeAlreadyExists, isAll(ports.ErrAlreadyExists)},
	{"invalid transition", fmt.Errorf("request r-1 is approved: %w", ports.ErrInvalidTransition), 409, CodeInvalidState, isAll(ports.ErrInvalidTransition)},
	{"corrupt", fmt.Errorf("decode %s: %w", secretDetail, ports.ErrCorrupt), 500, CodeCorrupt, isAll(ports.ErrCorrupt)},
	{"unavailable", fmt.Errorf("dial %s: %w", secretDetail, ports.ErrUnavailable), 503, CodeUnavailable, isAll(ports.ErrUnavailable)},
	{"deadline", fmt.Errorf("assume role: %w", context.DeadlineExceeded), 503, CodeUnavailable, isAll(ports.ErrUnavailable)},
	{"anything else", errors.New(secretDetail), 500, CodeInternal, func(t *testing.T, got error) {
		if e, ok := errors.AsType[*Error](got); !ok || e.Status != 500 || e.Message != internalMessage || e.RequestID == "" {
			t.Fatalf("got %#v", got)
		}
	}},
}

func isAll(targets ...error) func(t *testing.T, got error) {
	return func(t *testing.T, got error) {
		t.Helper()
		for _, target := range targets {
			if !errors.Is(got, target) {
				t.Fatalf("%v is not %v", got, target)
			}
		}
	}
}

// TestErrorResponse is the table of the one mapping: status and code per
// kind of error, and the messages that must not leak their cause.
func TestErrorResponse(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := errorResponse(tc.err)
			if status != tc.status || body.Code != tc.code || body.Message == "" {
				t.Fatalf("errorResponse = %d %+v, want %d %s", status, body, tc.status, tc.code)
			}
			if strings.Contains(body.Message, secretDetail) || strings.Contains(body.Message, "10.9.8.7") {
				t.Fatalf("served the cause: %q", body.Message)
			}
		})
	}
}

// TestErrorsRoundTrip: each service error crosses the wire and comes back
// as the same typed error (errors.As) or the same error values (errors.Is),
// with the broker's message, and never with the cause the broker logs.
func TestErrorsRoundTrip(t *testing.T) {
	b := startBroker(t)
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			b.svc.setErr(tc.err)
			_, err := b.client.SessionCredentials(context.Background(), ports.SessionCredentialsInput{SessionID: "s-1"})
			if err == nil {
				t.Fatal("no error")
			}
			tc.check(t, err)
			_, want := errorResponse(tc.err)
			if !strings.HasPrefix(err.Error(), want.Message) && !strings.Contains(err.Error(), strings.TrimPrefix(want.Message, "the broker's ")) {
				t.Fatalf("client error %q, broker message %q", err, want.Message)
			}
			if strings.Contains(err.Error(), "10.9.8.7") {
				t.Fatalf("the cause crossed the wire: %v", err)
			}
		})
	}
	if !strings.Contains(b.logs.String(), "10.9.8.7") {
		t.Fatal("the causes were not logged")
	}
}

// TestRefusalFromAProxy: an answer that is not a broker error (a load
// balancer's page) is described, and a 5xx counts as unavailable.
func TestRefusalFromAProxy(t *testing.T) {
	c := &Client{base: "https://broker.example.com"}
	err := c.refusal(&http.Response{StatusCode: 502, Status: "502 Bad Gateway", Header: http.Header{}}, []byte("<html>bad gateway</html>"))
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Fatalf("got %v", err)
	}
	err = c.refusal(&http.Response{StatusCode: 404, Status: "404 Not Found", Header: http.Header{}}, []byte("nope"))
	if errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) || !strings.Contains(err.Error(), "not a sentinel broker") {
		t.Fatalf("got %v", err)
	}
}
