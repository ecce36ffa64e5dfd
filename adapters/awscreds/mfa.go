package awscreds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"gopkg.in/ini.v1"

	"github.com/sentinel-gw/sentinel/ports"
)

// MFASessionDuration is how long the MFA session behind a role profile lives
// (STS's GetSessionToken default). Its one code serves every AssumeRole until then.
const MFASessionDuration = 12 * time.Hour

// mfaRenewBefore: an MFA session this close to its expiry is renewed before use,
// so an AssumeRole never races the session's end.
const mfaRenewBefore = time.Minute

// mfaProcessTimeout bounds mfa_process (it may wait for a touch on a hardware key).
const mfaProcessTimeout = 2 * time.Minute

// MFAPrompter asks a person for an MFA one-time code.
type MFAPrompter interface {
	// MFACode shows message and returns the code typed, or an error wrapping
	// ErrNoTerminal when there is nobody to ask.
	MFACode(ctx context.Context, message string) (string, error)
}

// ErrNoTerminal: there is no terminal to prompt on.
var ErrNoTerminal = errors.New("no terminal")

// mfa holds the profile's MFA session: GetSessionToken with SerialNumber and
// TokenCode, asked once and used until it expires.
type mfa struct {
	profile string // the profile asked for, for messages
	serial  string
	holder  string // the profile that names mfa_serial
	process string // mfa_process, empty when unset
	prompt  MFAPrompter
	clock   ports.Clock
	timeout time.Duration
	stderr  io.Writer // where mfa_process's own messages go

	mu      sync.Mutex
	token   string // --mfa-token: good for the first session only (codes are single-use)
	session ports.Credentials
	signed  *sts.Client // STS client signed with session
}

func newMFA(profile, serial, holder string, f files, opts Options) (*mfa, error) {
	process, err := readProfileKey(f.config, holder, "mfa_process")
	if err != nil {
		return nil, fmt.Errorf("profile %q: read mfa_process: %w", profile, err)
	}
	m := &mfa{profile: profile, serial: serial, holder: holder, process: process, token: strings.TrimSpace(opts.MFAToken),
		prompt: opts.MFAPrompt, clock: opts.Clock, timeout: opts.timeout(), stderr: os.Stderr}
	if m.prompt == nil {
		m.prompt = TerminalPrompter{}
	}
	if m.clock == nil {
		m.clock = ports.SystemClock{}
	}
	return m, nil
}

// mfaSerialOf finds the mfa_serial that applies to shared: its own, else its
// source_profile's when that holds long-term keys. MFA on a role profile used
// as another's source is refused: the SDK would have to assume it for us.
func mfaSerialOf(shared config.SharedConfig) (serial, holder string, err error) {
	if shared.MFASerial != "" {
		serial, holder = shared.MFASerial, shared.Profile
	}
	for s := shared.Source; s != nil && s.Profile != shared.Profile; s = s.Source {
		if s.MFASerial == "" {
			continue
		}
		if s.RoleARN != "" {
			return "", "", reject(ports.ErrInvalidArgument,
				"profile %q: mfa_serial on %q, a role profile used as source_profile, is not supported yet: move mfa_serial to %q",
				shared.Profile, s.Profile, shared.Profile)
		}
		if serial == "" {
			serial, holder = s.MFASerial, s.Profile
		}
	}
	return serial, holder, nil
}

// readProfileKey reads a key the SDK does not parse (mfa_process) from the
// profile's section of the config files; the last file wins, as in the SDK.
func readProfileKey(files []string, profile, key string) (string, error) {
	section := "profile " + profile
	value := ""
	for _, path := range files {
		data, err := os.ReadFile(path) //nolint:gosec // the user's own AWS config
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, AllowPythonMultilineValues: true}, data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		for _, name := range []string{section, profile} {
			if name == profile && profile != "default" {
				continue // only [default] may omit "profile "
			}
			if sec, err := f.GetSection(name); err == nil && sec.HasKey(key) {
				value = strings.TrimSpace(sec.Key(key).String())
			}
		}
	}
	return value, nil
}

// credentials returns a live MFA session, asking for a code when there is none
// or it is about to expire. seconds is the DurationSeconds of a new session.
func (m *mfa) credentials(ctx context.Context, source *sts.Client, seconds int32) (ports.Credentials, *sts.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if m.signed != nil && now.Add(mfaRenewBefore).Before(m.session.Expires) {
		return m.session, m.signed, nil
	}
	reason := ""
	if m.signed != nil {
		reason = fmt.Sprintf("sentinel: the MFA session for profile %s expired at %s.\n",
			m.profile, m.session.Expires.UTC().Format(time.RFC3339))
	}
	code, err := m.code(ctx, reason)
	if err != nil {
		return ports.Credentials{}, nil, err
	}
	callCtx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	out, err := source.GetSessionToken(callCtx, &sts.GetSessionTokenInput{
		DurationSeconds: aws.Int32(seconds),
		SerialNumber:    aws.String(m.serial),
		TokenCode:       aws.String(code),
	})
	if err != nil {
		return ports.Credentials{}, nil, wrapSTS("sts GetSessionToken with MFA device "+m.serial+" for profile "+m.profile, m.timeout, err)
	}
	if out.Credentials == nil {
		return ports.Credentials{}, nil, fmt.Errorf("sts GetSessionToken with MFA for profile %s: answer has no Credentials", m.profile)
	}
	session := fromSTS(out.Credentials)
	m.session = session
	m.signed = sts.New(source.Options(), func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(session.AccessKeyID, session.SecretAccessKey, session.SessionToken)
	})
	return m.session, m.signed, nil
}

// code is the next one-time code: --mfa-token once, then mfa_process, then the terminal.
func (m *mfa) code(ctx context.Context, reason string) (string, error) {
	if m.token != "" {
		code := m.token
		m.token = ""
		return code, nil
	}
	if m.process != "" {
		return m.runProcess(ctx)
	}
	code, err := m.prompt.MFACode(ctx, fmt.Sprintf("%sMFA code for %s (profile %s): ", reason, m.serial, m.profile))
	if errors.Is(err, ErrNoTerminal) {
		return "", reject(ports.ErrInvalidArgument,
			"profile %q needs an MFA code for %s (mfa_serial in profile %q) and there is no terminal to ask on: pass --mfa-token CODE or set mfa_process in profile %q",
			m.profile, m.serial, m.holder, m.holder)
	}
	if err != nil {
		return "", fmt.Errorf("profile %s: read MFA code: %w", m.profile, err)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return "", reject(ports.ErrInvalidArgument, "profile %q: no MFA code entered", m.profile)
	}
	return code, nil
}

// runProcess runs mfa_process through the shell and reads the code from its
// first line of output; its stderr (a "touch your key" hint) goes to ours.
func (m *mfa) runProcess(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, mfaProcessTimeout)
	defer cancel()
	cmd := shellCommand(ctx, m.process)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = m.stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("profile %s: mfa_process (in profile %s) failed: %w", m.profile, m.holder, err)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	code := strings.TrimSpace(line)
	if code == "" {
		return "", reject(ports.ErrInvalidArgument, "profile %q: mfa_process (in profile %q) printed no code", m.profile, m.holder)
	}
	return code, nil
}
