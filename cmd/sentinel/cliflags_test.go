package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/fakests"
)

// Flags before the command are Sentinel's: a mistyped one is a usage error
// naming it, not the child's name; a flag for the other mode is refused,
// not ignored. None of these gets as far as a profile, a policy or a store.
func TestExecFlagMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr []string
	}{
		{[]string{"exec", "--profile", "demo", "--sever", "--", "env"}, []string{"unknown flag --sever"}},
		{[]string{"exec", "--profile", "demo", "--sever", "env"}, []string{"unknown flag --sever"}},
		{[]string{"exec", "--profile", "demo", "-x", "--", "env"}, []string{"unknown flag -x"}},
		{[]string{"exec", "--profile", "demo", "--server-port", "9000", "--", "env"}, []string{"--server-port", "--server"}},
		{[]string{"exec", "--profile", "demo", "--lazy", "--", "env"}, []string{"--lazy", "--server"}},
		{[]string{"exec", "--profile", "demo", "--revocation-poll", "1s", "--", "env"}, []string{"--revocation-poll", "--server"}},
		{[]string{"exec", "--profile", "demo", "--heartbeat", "5s", "--", "env"}, []string{"--heartbeat", "--server"}},
		{[]string{"exec", "--profile", "demo", "--lease", "2m", "--", "env"}, []string{"--lease", "--server"}},
		{[]string{"exec", "--profile", "demo", "--on-store-error=deny", "--", "env"}, []string{"--on-store-error", "--server"}},
		{[]string{"exec", "--profile", "demo", "--server-duration", "5m", "--", "env"}, []string{"--server-duration", "--server"}},
		{[]string{"exec", "--profile", "demo", "--no-tracking", "--", "env"}, []string{"--[no-]tracking", "--server"}},
		// The same flag set to its default value is still given.
		{[]string{"exec", "--profile", "demo", "--heartbeat", "20s", "--", "env"}, []string{"--heartbeat", "--server"}},
		{[]string{"exec", "--server", "--profile", "demo", "--duration", "30m", "--", "env"}, []string{"--duration", "--server-duration"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			code, _, stderr := e.run(tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "not found") {
				t.Errorf("a flag was taken for the command:\n%s", stderr)
			}
			e.assertNoStore(t)
		})
	}
}

// What follows the command (or --) is the child's, flags included; flags
// before it are parsed, and givenFlags sees only those typed.
func TestExecParsesFlagsBeforeTheCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		wantCmd   []string
		wantGiven []string
	}{
		{[]string{"exec", "--profile", "p", "--", "env", "--sever", "-x"}, []string{"--", "env", "--sever", "-x"}, []string{"profile"}},
		{[]string{"exec", "--server", "--profile", "p", "terraform", "apply", "-auto-approve"}, []string{"terraform", "apply", "-auto-approve"}, []string{"profile", "server"}},
		{[]string{"exec", "--profile", "p", "--duration", "10m", "--", "aws", "--lazy"}, []string{"--", "aws", "--lazy"}, []string{"duration", "profile"}},
		{[]string{"exec", "--profile", "p", "--no-tracking"}, nil, []string{"profile", "tracking"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var cli CLI
			var out bytes.Buffer
			parser, err := newParser(&cli, docsEnv(&out))
			if err != nil {
				t.Fatal(err)
			}
			kctx, err := parser.Parse(tt.args)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !slices.Equal(cli.Exec.Command, tt.wantCmd) {
				t.Errorf("command = %q, want %q", cli.Exec.Command, tt.wantCmd)
			}
			var given []string
			for f := range givenFlags(kctx) {
				given = append(given, f)
			}
			slices.Sort(given)
			if !slices.Equal(given, tt.wantGiven) {
				t.Errorf("given flags = %q, want %q", given, tt.wantGiven)
			}
		})
	}
}

// Without --server the credential's lifetime is --duration (default 1h, as
// for credentials), not --server-duration's 15m.
func TestExecCLIModeDuration(t *testing.T) {
	t.Parallel()
	const (
		userARN = "arn:aws:iam::123456789012:user/alice"
		roleARN = "arn:aws:iam::123456789012:role/Deployer"
	)
	tests := []struct {
		flags []string
		want  string // AssumeRole DurationSeconds
	}{
		{nil, "3600"},
		{[]string{"--duration", "30m"}, "1800"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"exec"}, tt.flags...), " "), func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			sts := fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, userARN))
			sb.writeAWS(
				"[profile prod]\nrole_arn = "+roleARN+"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
				"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
			)
			sb.writePolicy(allowAllPolicy)
			args := append([]string{"exec", "--profile", "prod", "--identity-source", "sts", "--policy", sb.policy, "--log-file", sb.decisions}, tt.flags...)
			r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()}, append(args, "--", "true")...)
			if r.code != 0 {
				t.Fatalf("sentinel exec: %s", r)
			}
			var got []string
			for _, c := range sts.Calls() {
				if c.Action == "AssumeRole" {
					got = append(got, c.Params["DurationSeconds"])
				}
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("AssumeRole DurationSeconds = %q, want one call with %s", got, tt.want)
			}
		})
	}
}
