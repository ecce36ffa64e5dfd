package childproc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/ini.v1"
)

// credentialKeys are the keys of an AWS config file that yield credentials
// (or name where an SDK would fetch them) without asking Sentinel's server:
// static keys, credential_process, role assumption (role_arn with
// source_profile or credential_source, mfa_serial), web identity, and the
// login session of `aws login`. Every sso_* key is credential-bearing too
// (see isCredentialKey). The AWS SDKs read keys case-insensitively, so the
// filter compares lower-cased names.
var credentialKeys = map[string]bool{
	"aws_access_key_id":       true,
	"aws_secret_access_key":   true,
	"aws_session_token":       true,
	"aws_security_token":      true,
	"credential_process":      true,
	"role_arn":                true,
	"source_profile":          true,
	"credential_source":       true,
	"mfa_serial":              true,
	"web_identity_token_file": true,
	"login_session":           true,
}

// isCredentialKey reports whether an AWS config key, as written, bears
// credentials (surrounding space and case do not matter to the SDKs).
func isCredentialKey(name string) bool {
	k := strings.ToLower(strings.TrimSpace(name))
	return credentialKeys[k] || strings.HasPrefix(k, "sso_")
}

// isCredentialSection reports whether a whole section is credential-bearing:
// [sso-session NAME] holds only the settings of an SSO login.
func isCredentialSection(name string) bool {
	fields := strings.Fields(strings.ToLower(name))
	return len(fields) > 0 && fields[0] == "sso-session"
}

// errCredentialLine is returned when a filtered config still has a line
// that some parser could read as a credential key (see checkNoCredentialLines).
var errCredentialLine = errors.New("a credential key survived the filter")

// loadOptions parse an AWS config the way the SDKs read it: nested
// sub-settings (s3 =, followed by indented lines) stay with their key,
// a backslash does not continue a line, ';' and '#' inside a value stay
// (AWS values such as URLs may hold them), and repeated keys are all kept.
// A line with neither '=' nor ':' is no setting any SDK reads (botocore
// refuses the file); it is left out rather than failing the whole copy.
var loadOptions = ini.LoadOptions{
	AllowNestedValues:       true,
	SkipUnrecognizableLines: true,
	AllowShadows:            true,
	IgnoreContinuation:      true,
	IgnoreInlineComment:     true,
	PreserveSurroundedQuote: true,
	KeyValueDelimiters:      "=:",
}

// FilterConfig returns the AWS config src without any credential-bearing
// setting: every key isCredentialKey names, at the top level of a section or
// as a nested sub-setting, and every [sso-session] section. Everything else
// (region, output, ca_bundle, endpoint_url, retry_mode, max_attempts,
// cli_pager, s3 and other nested settings, [services] sections, keys it does
// not know, comments) is kept. It also returns the names of the sections
// kept, as written in their headers ("default", "profile prod", ...).
//
// The output is checked line by line, independently of the INI parser, so
// that no line of it, whatever a parser makes of quotes or indentation,
// reads as a credential key; when one would, FilterConfig fails rather than
// hand it to the child.
func FilterConfig(src []byte) (out []byte, sections []string, err error) {
	in, err := ini.LoadSources(loadOptions, src)
	if err != nil {
		return nil, nil, fmt.Errorf("parse the AWS config: %w", err)
	}
	dst := ini.Empty(loadOptions)
	for _, sec := range in.Sections() {
		if isCredentialSection(sec.Name()) {
			continue
		}
		kept, err := copySection(dst, sec)
		if err != nil {
			return nil, nil, err
		}
		if kept && sec.Name() != ini.DefaultSection {
			sections = append(sections, sec.Name())
		}
	}
	var buf bytes.Buffer
	if _, err := dst.WriteTo(&buf); err != nil {
		return nil, nil, fmt.Errorf("write the filtered AWS config: %w", err)
	}
	if err := checkNoCredentialLines(buf.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := checkRoundTrip(dst, buf.Bytes()); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), sections, nil
}

// errRoundTrip is returned when the written copy would not read back as the
// settings it was written from (ini.v1 cannot write some quoting back).
var errRoundTrip = errors.New("the filtered AWS config does not read back as written")

// checkRoundTrip fails unless out, read again, has exactly want's sections,
// keys, values and nested sub-settings.
func checkRoundTrip(want *ini.File, out []byte) error {
	got, err := ini.LoadSources(loadOptions, out)
	if err != nil {
		return fmt.Errorf("%w: %w", errRoundTrip, err)
	}
	if !slices.Equal(settings(want), settings(got)) {
		return errRoundTrip
	}
	return nil
}

// settings flattens a config into one line per section, key, value and
// nested sub-setting, in order.
func settings(f *ini.File) []string {
	var out []string
	for _, sec := range f.Sections() {
		if sec.Name() == ini.DefaultSection && len(sec.Keys()) == 0 {
			continue
		}
		out = append(out, "["+sec.Name()+"]")
		for _, key := range sec.Keys() {
			out = append(out, key.Name()+"="+strings.Join(key.ValueWithShadows(), "\x00"))
			for _, n := range key.NestedValues() {
				out = append(out, "  "+n)
			}
		}
	}
	return out
}

// copySection copies sec into dst without its credential keys and reports
// whether the section was written (ini.v1 writes the header-less default
// section only when it has keys).
func copySection(dst *ini.File, sec *ini.Section) (bool, error) {
	out, err := dst.NewSection(sec.Name())
	if err != nil {
		return false, fmt.Errorf("copy section [%s]: %w", sec.Name(), err)
	}
	out.Comment = sec.Comment
	for _, key := range sec.Keys() {
		if isCredentialKey(key.Name()) {
			continue
		}
		if err := copyKey(out, key); err != nil {
			return false, fmt.Errorf("copy [%s] %s: %w", sec.Name(), key.Name(), err)
		}
	}
	return sec.Name() != ini.DefaultSection || len(out.Keys()) > 0, nil
}

// copyKey copies key, all its values and its nested sub-settings except the
// credential-bearing ones, into sec.
func copyKey(sec *ini.Section, key *ini.Key) error {
	values := key.ValueWithShadows()
	if len(values) == 0 { // ini.v1 gives no values for an empty one
		values = []string{""}
	}
	out, err := sec.NewKey(key.Name(), values[0])
	for _, v := range values[1:] {
		if err == nil {
			err = out.AddShadow(v)
		}
	}
	if err != nil {
		return err
	}
	out.Comment = key.Comment
	for _, nested := range key.NestedValues() {
		name := nested
		if i := strings.IndexAny(nested, loadOptions.KeyValueDelimiters); i >= 0 {
			name = nested[:i]
		}
		if isCredentialKey(name) || strings.TrimSpace(nested) == "" {
			continue
		}
		if err := out.AddNestedValue(nested); err != nil {
			return err
		}
	}
	return nil
}

// checkNoCredentialLines fails when any line of a config, at any indent,
// starts with a credential key followed by '=' or ':' (as a section key, a
// nested sub-setting, or a line a parser might take out of a quoted value).
// A line ends at any character some parser ends lines at: ini.v1 only at
// '\n', but Python (botocore, the AWS CLI) also at a lone '\r', and its
// str.splitlines at more.
func checkNoCredentialLines(cfg []byte) error {
	lines := strings.FieldsFunc(string(cfg), isLineBreak)
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		end := strings.IndexAny(line, "=:")
		if end < 0 {
			end = len(line)
		}
		if isCredentialKey(strings.Trim(line[:end], "\"`' \t")) {
			return fmt.Errorf("line %d: %w", i+1, errCredentialLine)
		}
	}
	return nil
}

// isLineBreak reports whether r ends a line for some parser (Python's
// str.splitlines set, which includes '\n' and '\r').
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// ConfigCopy is the child's AWS config: a filtered copy of the user's.
type ConfigCopy struct {
	// Path is the copy, 0600 in a private 0700 directory.
	Path string
	// sections are the section names kept in the copy.
	sections []string
}

// HasProfile reports whether the copy has a section for profile, so an SDK
// told to use it finds its settings.
func (c ConfigCopy) HasProfile(profile string) bool {
	want := "profile " + profile
	for _, s := range c.sections {
		name := strings.Join(strings.Fields(s), " ")
		if name == want || (profile == "default" && name == "default") {
			return true
		}
	}
	return false
}

// Vars returns the child's variables for the copy and the served profile:
// AWS_CONFIG_FILE names the copy (when there is one; otherwise ChildEnv's
// empty config stays), AWS_PROFILE selects the profile's own section when
// the copy has one (so its ca_bundle, endpoint_url, s3 ... apply; it holds
// no credentials any more, so the SDKs still fetch them from the server),
// and SENTINEL_PROFILE names the profile for shell prompts.
func (c ConfigCopy) Vars(profile string) map[string]string {
	vars := map[string]string{"SENTINEL_PROFILE": profile}
	if c.Path != "" {
		vars["AWS_CONFIG_FILE"] = c.Path
		if c.HasProfile(profile) {
			vars["AWS_PROFILE"] = profile
		}
	}
	return vars
}

// SourceConfigPath returns the AWS config file the SDKs read for this
// environment: $AWS_CONFIG_FILE, else ~/.aws/config.
func SourceConfigPath(getenv func(string) string) string {
	if p := getenv("AWS_CONFIG_FILE"); p != "" {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".aws", "config")
}

// WriteConfigCopy writes FilterConfig of the AWS config at src to a new
// file, mode 0600, in dir (a private 0700 directory such as
// WriteEmptyConfig's, removed with it). A missing src gives an empty copy.
func WriteConfigCopy(dir, src string) (ConfigCopy, error) {
	raw, err := os.ReadFile(src) // #nosec G304 -- the user's own AWS config, named by them
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ConfigCopy{}, fmt.Errorf("read the AWS config %s: %w", src, err)
	}
	filtered, sections, err := FilterConfig(raw)
	if err != nil {
		return ConfigCopy{}, fmt.Errorf("%s: %w", src, err)
	}
	path := filepath.Join(dir, "config")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return ConfigCopy{}, fmt.Errorf("create the child's AWS config: %w", err)
	}
	_, werr := f.Write(filtered)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return ConfigCopy{}, fmt.Errorf("write the child's AWS config: %w", werr)
	}
	return ConfigCopy{Path: path, sections: sections}, nil
}
