package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseLifetimeAndStoreFields(t *testing.T) {
	t.Parallel()
	pol := mustParse(t, `version: "1"
rules:
  - name: central
    effect: require_server_session
    session_store: dynamodb://sentinel-sessions?region=eu-west-1
  - name: sandbox
    effect: allow
    allow_long_lived_passthrough: true
  - name: explicit-no
    effect: allow
    allow_long_lived_passthrough: false
`)
	if got := pol.Rules[0].SessionStore; got != "dynamodb://sentinel-sessions?region=eu-west-1" {
		t.Errorf("session_store = %q", got)
	}
	if !pol.Rules[1].AllowLongLivedPassThrough || pol.Rules[2].AllowLongLivedPassThrough || pol.Rules[0].AllowLongLivedPassThrough {
		t.Errorf("allow_long_lived_passthrough read as %v %v %v, want false true false",
			pol.Rules[0].AllowLongLivedPassThrough, pol.Rules[1].AllowLongLivedPassThrough, pol.Rules[2].AllowLongLivedPassThrough)
	}
}

func TestParseLifetimeAndStoreFieldErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, rule, want string }{
		{"store on an allow rule", "effect: allow\n    session_store: bolt:///x.db", "only applies to require_server_session"},
		{"unknown scheme", "effect: require_server_session\n    session_store: mysql://db", "not a store identity"},
		{"scheme only", "effect: require_server_session\n    session_store: bolt://", "not a store identity"},
		{"password in it", "effect: require_server_session\n    session_store: redis://u:pw@h:6379/0?prefix=p", "leave credentials out"},
		{"redis without prefix", "effect: require_server_session\n    session_store: redis://h:6379/0", "has no prefix"},
		{"empty store", "effect: require_server_session\n    session_store: \"\"", "session_store is empty"},
		{"opt-in as a word", "effect: allow\n    allow_long_lived_passthrough: yes", "must be true or false"},
		{"opt-in quoted", "effect: allow\n    allow_long_lived_passthrough: \"true\"", "must be true or false"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte("version: \"1\"\nrules:\n  - name: r\n    " + tt.rule + "\n"))
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error %v, want a ParseError containing %q", tt.name, err, tt.want)
		}
	}
}

func TestSessionStoreRule(t *testing.T) {
	t.Parallel()
	const store = "dynamodb://sentinel-sessions?region=eu-west-1"
	pol := mustParse(t, `version: "1"
rules:
  - name: central
    effect: require_server_session
    reason: central tracking
    session_store: `+store+`
    allow_long_lived_passthrough: true
`)
	tests := []struct {
		name    string
		req     Request
		allow   bool
		missing string
	}{
		{"the named store", Request{Mode: ModeServer, SessionTracking: true, SessionStore: store}, true, ""},
		{"a throwaway bolt file", Request{Mode: ModeServer, SessionTracking: true, SessionStore: "bolt:///tmp/x.db"}, false, store},
		{"same table, other region", Request{Mode: ModeServer, SessionTracking: true, SessionStore: "dynamodb://sentinel-sessions?region=us-east-1"}, false, store},
		{"tracking off", Request{Mode: ModeServer}, false, store},
	}
	for _, tt := range tests {
		d := pol.Evaluate(tt.req)
		if d.Allowed() != tt.allow || d.RequiresSessionStore != tt.missing || !d.AllowLongLivedPassThrough {
			t.Errorf("%s: %+v; want allowed=%v, requires_session_store %q, opt-in carried", tt.name, d, tt.allow, tt.missing)
		}
		if !tt.allow && (!strings.Contains(d.Reason, store) || (tt.req.SessionStore != "" && !strings.Contains(d.Reason, tt.req.SessionStore))) {
			t.Errorf("%s: reason %q must name the store asked for and the one used", tt.name, d.Reason)
		}
	}
}
