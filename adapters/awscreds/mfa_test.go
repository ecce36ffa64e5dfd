package awscreds

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

const (
	aliceMFA = "arn:aws:iam::111122223333:mfa/alice"
	mfaRole  = "arn:aws:iam::111122223333:role/Mfa"
)

// scriptedPrompter answers with codes in order and records every message.
type scriptedPrompter struct {
	mu       sync.Mutex
	codes    []string
	err      error
	messages []string
}

func (p *scriptedPrompter) MFACode(_ context.Context, message string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages = append(p.messages, message)
	if p.err != nil {
		return "", p.err
	}
	if len(p.codes) == 0 {
		return "", errors.New("test prompter: no code left")
	}
	code := p.codes[0]
	p.codes = p.codes[1:]
	return code + "\n", nil
}

func (p *scriptedPrompter) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.messages...)
}

func callsOf(fake *fakests.Server, action string) []fakests.Call {
	var out []fakests.Call
	for _, c := range fake.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func mfaRequest(name string) ports.CredentialRequest {
	return ports.CredentialRequest{Duration: 15 * time.Minute, RoleSessionName: name, SourceIdentity: "alice"}
}

// The role's trust policy requires MFA: one code opens one MFA session that
// signs every AssumeRole until it expires; then the user is asked again and told why.
func TestMFASessionSignsEveryAssumeRoleAndIsRenewedAfterExpiry(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	fake, _ := setup(t, fakests.WithClock(clock), fakests.WithMFADevice(aliceMFA, "123456"), fakests.WithMFARequired(mfaRole))
	prompt := &scriptedPrompter{codes: []string{"123456", "222222"}}
	p := newProvider(t, "mfa", Options{MFAPrompt: prompt, Clock: clock})
	ctx := context.Background()

	for i := range 3 {
		got, err := p.Credentials(ctx, mfaRequest("s"+string(rune('1'+i))))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		roles := callsOf(fake, "AssumeRole")
		assertServed(t, got, roles[len(roles)-1])
		clock.Advance(time.Hour)
	}
	sessions := callsOf(fake, "GetSessionToken")
	if len(sessions) != 1 || len(prompt.asked()) != 1 {
		t.Fatalf("%d GetSessionToken calls and %d prompts for 3 requests, want 1 and 1", len(sessions), len(prompt.asked()))
	}
	if s := sessions[0]; s.Params["SerialNumber"] != aliceMFA || s.Params["TokenCode"] != "123456" || s.AccessKeyID != baseKeyID {
		t.Fatalf("GetSessionToken sent serial %q code %q signed by %q", s.Params["SerialNumber"], s.Params["TokenCode"], s.AccessKeyID)
	}
	for _, r := range callsOf(fake, "AssumeRole") {
		if r.AccessKeyID != sessions[0].Issued.AccessKeyID || !r.HasSessionToken {
			t.Fatalf("AssumeRole signed by %q, want the MFA session %q", r.AccessKeyID, sessions[0].Issued.AccessKeyID)
		}
	}
	if !strings.Contains(prompt.asked()[0], aliceMFA) || strings.Contains(prompt.asked()[0], "expired") {
		t.Fatalf("first prompt %q", prompt.asked()[0])
	}

	// 12 h after the code, the session is over: ask again, saying so.
	clock.Advance(MFASessionDuration)
	fake.SetMFACode(aliceMFA, "222222")
	if _, err := p.Credentials(ctx, mfaRequest("s4")); err != nil {
		t.Fatal(err)
	}
	asked := prompt.asked()
	if len(asked) != 2 || !strings.Contains(asked[1], "MFA session for profile mfa expired at 2026-03-01T21:00:00Z") {
		t.Fatalf("prompts after expiry: %q", asked)
	}
	if n := len(callsOf(fake, "GetSessionToken")); n != 2 {
		t.Fatalf("%d GetSessionToken calls after expiry, want 2", n)
	}
}

func TestMFATokenFlagIsUsedForTheFirstSession(t *testing.T) {
	fake, _ := setup(t, fakests.WithMFADevice(aliceMFA, "123456"), fakests.WithMFARequired(mfaRole))
	prompt := &scriptedPrompter{err: errors.New("must not prompt")}
	p := newProvider(t, "mfa", Options{MFAToken: "123456", MFAPrompt: prompt})
	if _, err := p.Credentials(context.Background(), mfaRequest("s1")); err != nil {
		t.Fatal(err)
	}
	if len(prompt.asked()) != 0 || len(callsOf(fake, "AssumeRole")) != 1 {
		t.Fatalf("prompts %q, calls %+v", prompt.asked(), fake.Calls())
	}
}

func TestMFAProcessGivesTheCode(t *testing.T) {
	fake, f := setup(t, fakests.WithMFADevice(aliceMFA, "123456"), fakests.WithMFARequired(mfaRole))
	codeFile := filepath.Join(t.TempDir(), "code")
	if err := os.WriteFile(codeFile, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	appendFile(t, f.config, "\n[profile viaprocess]\nregion = us-east-1\nrole_arn = "+mfaRole+"\nsource_profile = base\nmfa_serial = "+aliceMFA+
		"\nmfa_process = cat '"+codeFile+"'\n")
	// No terminal: mfa_process alone must do.
	p := newProvider(t, "viaprocess", Options{MFAPrompt: &scriptedPrompter{err: ErrNoTerminal}})
	if _, err := p.Credentials(context.Background(), mfaRequest("s1")); err != nil {
		t.Fatal(err)
	}
	if s := callsOf(fake, "GetSessionToken"); len(s) != 1 || s[0].Params["TokenCode"] != "123456" {
		t.Fatalf("GetSessionToken calls %+v", s)
	}
}

func TestMFAWithoutTerminalSaysWhatToDo(t *testing.T) {
	fake, _ := setup(t, fakests.WithMFADevice(aliceMFA, "123456"))
	p := newProvider(t, "mfa", Options{MFAPrompt: &scriptedPrompter{err: ErrNoTerminal}})
	_, err := p.Credentials(context.Background(), mfaRequest("s1"))
	if !errors.Is(err, ports.ErrInvalidArgument) {
		t.Fatalf("err = %v, want ErrInvalidArgument", err)
	}
	for _, w := range []string{"no terminal", "--mfa-token CODE", "mfa_process", aliceMFA} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("STS got %d calls", n)
	}
}

// A wrong code is STS's AccessDenied, shown as is; nothing is cached, so the next request asks again.
func TestMFAWrongCodeIsRefusedAndAskedAgain(t *testing.T) {
	fake, _ := setup(t, fakests.WithMFADevice(aliceMFA, "123456"))
	prompt := &scriptedPrompter{codes: []string{"000000", "123456"}}
	p := newProvider(t, "mfa", Options{MFAPrompt: prompt})
	_, err := p.Credentials(context.Background(), mfaRequest("s1"))
	if err == nil || !strings.Contains(err.Error(), "AccessDenied: "+fakests.InvalidMFACodeMessage) {
		t.Fatalf("err = %v, want STS's AccessDenied", err)
	}
	assertNoSecret(t, err)
	if _, err := p.Credentials(context.Background(), mfaRequest("s2")); err != nil {
		t.Fatal(err)
	}
	if len(prompt.asked()) != 2 || len(callsOf(fake, "AssumeRole")) != 1 {
		t.Fatalf("prompts %d, AssumeRoles %d", len(prompt.asked()), len(callsOf(fake, "AssumeRole")))
	}
}

// mfa_serial on the source_profile (the IAM user's keys) serves the role profile too.
func TestMFASerialOnTheSourceProfile(t *testing.T) {
	fake, f := setup(t, fakests.WithMFADevice(aliceMFA, "123456"), fakests.WithMFARequired(prodRole))
	appendFile(t, f.config, "\n[profile base]\nmfa_serial = "+aliceMFA+"\n")
	p := newProvider(t, "prod", Options{MFAPrompt: &scriptedPrompter{codes: []string{"123456"}}})
	if _, err := p.Credentials(context.Background(), mfaRequest("s1")); err != nil {
		t.Fatal(err)
	}
	if s := callsOf(fake, "GetSessionToken"); len(s) != 1 || s[0].Params["SerialNumber"] != aliceMFA {
		t.Fatalf("GetSessionToken calls %+v", s)
	}
}

// A plain profile with mfa_serial is served its MFA session, for the lifetime asked.
func TestMFAPlainProfileServesItsSession(t *testing.T) {
	fake, f := setup(t, fakests.WithMFADevice(aliceMFA, "123456"))
	appendFile(t, f.config, "\n[profile plain]\nmfa_serial = "+aliceMFA+"\n")
	p := newProvider(t, "plain", Options{MFAPrompt: &scriptedPrompter{codes: []string{"123456"}}})
	got, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := callsOf(fake, "GetSessionToken")
	if len(s) != 1 || s[0].Params["DurationSeconds"] != "3600" {
		t.Fatalf("GetSessionToken calls %+v", s)
	}
	assertServed(t, got, s[0])
}

func TestPromptLineReadsOneLineAndStopsOnCancel(t *testing.T) {
	inR, inW := io.Pipe()
	var shown strings.Builder
	go func() { _, _ = io.WriteString(inW, "123456\nrest") }()
	line, err := promptLine(context.Background(), inR, &shown, "code: ", func() {})
	if err != nil || line != "123456\n" || shown.String() != "code: " {
		t.Fatalf("line %q err %v shown %q", line, err, shown.String())
	}

	blockedR, blockedW := io.Pipe()
	defer blockedW.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	aborted := false
	if _, err := promptLine(ctx, blockedR, io.Discard, "code: ", func() { aborted = true; _ = blockedR.Close() }); !errors.Is(err, context.Canceled) || !aborted {
		t.Fatalf("cancelled prompt: err %v aborted %v", err, aborted)
	}
}

func TestMFATokenForAProfileWithoutMFAIsRefused(t *testing.T) {
	for _, tt := range []struct {
		profile string
		opts    Options
	}{
		{"prod", Options{MFAToken: "123456"}},
		{"mfa", Options{MFAToken: "123456", NoSession: true}},
	} {
		fake, _ := setup(t)
		_, err := NewProvider(context.Background(), tt.profile, tt.opts)
		if !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), "drop --mfa-token") {
			t.Fatalf("%s: err = %v, want a clear refusal", tt.profile, err)
		}
		if n := len(fake.Calls()); n != 0 {
			t.Fatalf("STS got %d calls", n)
		}
	}
}
