package httpserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestErrorResponse(t *testing.T) {
	// secretish stands for whatever an upstream error might carry; it must never be served.
	const secretish = "upstream said: signature for AKIAEXAMPLE does not match"
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{"denied", &gateway.DeniedError{Rule: "prod-office-hours", Reason: "outside office hours"},
			http.StatusForbidden, "AccessDenied", "policy denied: rule prod-office-hours: outside office hours"},
		{"denied without rule", &gateway.DeniedError{Reason: "no rule matched"},
			http.StatusForbidden, "AccessDenied", "policy denied: rule (none): no rule matched"},
		{"denied wrapped", fmt.Errorf("issue: %w", &gateway.DeniedError{Rule: "r", Reason: "x"}),
			http.StatusForbidden, "AccessDenied", "policy denied: rule r: x"},
		{"revoked", &gateway.RevokedError{SessionID: "s1", By: "alice", Reason: "incident 42", At: at},
			http.StatusForbidden, "SessionRevoked", "session revoked by alice at 2026-03-04T05:06:07Z: incident 42"},
		{"session ended", &gateway.SessionEndedError{SessionID: "abc"},
			http.StatusForbidden, "SessionExpired", "session abc has expired; restart sentinel exec --server"},
		{"store", &gateway.StoreError{Err: errors.New("dial tcp: connection refused")},
			http.StatusServiceUnavailable, "StoreUnavailable",
			"session store unavailable and --on-store-error=deny: refusing (check the store, or retry)"},
		{"locked", fmt.Errorf("issue: %w", &gateway.LockedError{Lock: ports.Lock{ID: "0f8e", Kind: ports.LockUser, Target: "alice",
			Reason: "laptop stolen", CreatedBy: "bob", ExpiresAt: at}}),
			http.StatusForbidden, "Locked",
			"user alice is locked by bob until 2026-03-04T05:06:07Z: laptop stolen (lock 0f8e; it ends when it runs out or someone runs sentinel unlock 0f8e)"},
		{"source", &gateway.SourceError{Profile: "prod", Err: errors.New(secretish)},
			http.StatusBadGateway, "CredentialSourceFailed", ""},
		{"source wrapped", fmt.Errorf("x: %w", &gateway.SourceError{Profile: "dev", Err: errors.New(secretish)}),
			http.StatusBadGateway, "CredentialSourceFailed", ""},
		{"broker refused the proof", fmt.Errorf("%s: %w", secretish, ports.ErrUnauthenticated),
			http.StatusForbidden, "BrokerUnauthenticated", ""},
		{"broker forbids", fmt.Errorf("%s: %w", secretish, ports.ErrForbidden),
			http.StatusForbidden, "BrokerForbidden", ""},
		{"broker unreachable", fmt.Errorf("broker https://b unreachable: %s: %w", secretish, ports.ErrUnavailable),
			http.StatusServiceUnavailable, "BrokerUnavailable", ""},
		{"unknown", errors.New(secretish),
			http.StatusInternalServerError, "InternalError", internalErrorMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, message := errorResponse(tt.err)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Errorf("status, code = %d, %q; want %d, %q", status, code, tt.wantStatus, tt.wantCode)
			}
			if tt.wantMessage != "" && message != tt.wantMessage {
				t.Errorf("message = %q; want %q", message, tt.wantMessage)
			}
			if strings.Contains(message, "AKIAEXAMPLE") || strings.Contains(message, "upstream said") {
				t.Errorf("message leaks the inner error: %q", message)
			}
			var source *gateway.SourceError
			if errors.As(tt.err, &source) {
				if !strings.Contains(message, fmt.Sprintf("%q", source.Profile)) || !strings.Contains(message, "check") {
					t.Errorf("source message %q should name profile %q and say what to check", message, source.Profile)
				}
			}
		})
	}
}
