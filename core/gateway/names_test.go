package gateway

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSourceIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, caller, requestID, want string
	}{
		{"plain", "alice", "8f3a2c1d", "sentinel.alice.8f3a2c1d"},
		{"email kept", "alice@example.com", "8f3a2c1d", "sentinel.alice@example.com.8f3a2c1d"},
		{"colon replaced", "aws:alice", "8f3a2c1d", "sentinel.aws-alice.8f3a2c1d"},
		{"slash and space replaced", "dom ain/alice", "8f3a2c1d", "sentinel.dom-ain-alice.8f3a2c1d"},
		{"each non-ascii character one dash", "zoë", "8f3a2c1d", "sentinel.zo-.8f3a2c1d"},
		{"empty caller", "", "8f3a2c1d", "sentinel.unknown.8f3a2c1d"},
		{"empty session id", "alice", "", "sentinel.alice"},
		{"long caller cut, id kept", strings.Repeat("a", 100), "8f3a2c1d",
			"sentinel." + strings.Repeat("a", 64-len("sentinel.")-len(".8f3a2c1d")) + ".8f3a2c1d"},
		{"long caller cut, whole session id kept", strings.Repeat("a", 100), "8f3a2c1d9b7e4f60a1c2d3e4f5061728",
			"sentinel." + strings.Repeat("a", 64-len("sentinel.")-33) + ".8f3a2c1d9b7e4f60a1c2d3e4f5061728"},
		{"long id cut to 32", "alice", strings.Repeat("f", 40),
			"sentinel.alice." + strings.Repeat("f", 32)},
	}
	for _, tt := range tests {
		got := SourceIdentity(tt.caller, tt.requestID)
		if got != tt.want {
			t.Errorf("%s: SourceIdentity(%q, %q) = %q, want %q", tt.name, tt.caller, tt.requestID, got, tt.want)
		}
		if !validSTSName(got) {
			t.Errorf("%s: %q is not a valid STS name", tt.name, got)
		}
	}
}

func TestRoleSessionName(t *testing.T) {
	t.Parallel()
	const id = "8f3a2c1d9b7e4f60a1c2d3e4f5061728"
	tests := []struct {
		caller, want string
	}{
		{"alice", "sentinel.alice." + id},
		{"", "sentinel.unknown." + id},
		{"a:b", "sentinel.a-b." + id},
		{strings.Repeat("b", 50), "sentinel." + strings.Repeat("b", 64-9-33) + "." + id},
	}
	for _, tt := range tests {
		got := RoleSessionName(tt.caller, id)
		if got != tt.want || !validSTSName(got) {
			t.Errorf("RoleSessionName(%q) = %q, want %q (valid)", tt.caller, got, tt.want)
		}
	}
}

func TestValidSTSName(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"ab", "sentinel.a_b+c=d,e@f-g", strings.Repeat("x", 64)} {
		if !validSTSName(s) {
			t.Errorf("validSTSName(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "a", strings.Repeat("x", 65), "a:b", "a b", "a/b", "zoë"} {
		if validSTSName(s) {
			t.Errorf("validSTSName(%q) = true, want false", s)
		}
	}
}

// Random inputs from an alphabet rich in refused characters always give valid names.
func TestNamesAlwaysValid(t *testing.T) {
	t.Parallel()
	alphabet := []rune("aZ9_+=,.@-:/ \t\x00é漢\U0001F600\uFFFD")
	rng := rand.New(rand.NewPCG(1, 2))
	randomString := func() string {
		r := make([]rune, rng.IntN(120))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	for range 2000 {
		caller, id := randomString(), randomString()
		assertValidNames(t, caller, id)
	}
}

func FuzzSourceIdentity(f *testing.F) {
	for _, seed := range [][2]string{{"alice", "8f3a2c1d"}, {"", ""}, {"aws:x", "a|b"}, {strings.Repeat("é", 70), "\xff\xfe"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, caller, requestID string) {
		assertValidNames(t, caller, requestID)
	})
}

func FuzzRoleSessionName(f *testing.F) {
	for _, seed := range [][2]string{{"alice", "8f3a2c1d9b7e4f60a1c2d3e4f5061728"}, {"", ""}, {"a b", strings.Repeat("z", 90)}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, caller, sessionID string) {
		if got := RoleSessionName(caller, sessionID); !validSTSName(got) {
			t.Fatalf("RoleSessionName(%q, %q) = %q, not a valid STS name", caller, sessionID, got)
		}
	})
}

func assertValidNames(t *testing.T, caller, id string) {
	t.Helper()
	si := SourceIdentity(caller, id)
	if !validSTSName(si) || !strings.HasPrefix(si, "sentinel.") {
		t.Fatalf("SourceIdentity(%q, %q) = %q, not a valid STS name starting with sentinel.", caller, id, si)
	}
	// The request id survives whole whenever it is short and already valid.
	if len(id) <= suffixMax && id != "" && sanitize(id, suffixMax) == id && !strings.HasSuffix(si, "."+id) {
		t.Fatalf("SourceIdentity(%q, %q) = %q lost the request id", caller, id, si)
	}
	if rsn := RoleSessionName(caller, id); !validSTSName(rsn) {
		t.Fatalf("RoleSessionName(%q, %q) = %q, not a valid STS name", caller, id, rsn)
	}
}
