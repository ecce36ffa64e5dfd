package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// ManCmd prints the man page, generated from the same command tree as --help.
type ManCmd struct{}

// Help shows how to read or install the page.
func (ManCmd) Help() string {
	return `The release archives and docs/man/sentinel.1 carry the same page.

Examples:
  sentinel man | man -l -
  sentinel man > /usr/local/share/man/man1/sentinel.1`
}

// Run prints the page in roff; it opens nothing.
func (ManCmd) Run(kctx *kong.Context, env *Env) error {
	_, err := fmt.Fprint(env.Stdout, manPage(kctx.Model, date))
	return err
}

// manPage renders section 1 of the manual from the kong model: every command
// with its summary, help, examples and flags, as --help shows them. The page
// is dated with the release build's day, or not at all, so the same tree
// always gives the same page and the checked-in copy can be compared.
func manPage(app *kong.Application, buildDate string) string {
	day := ""
	if t, err := time.Parse(time.RFC3339, buildDate); err == nil {
		day = t.UTC().Format(time.DateOnly)
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH SENTINEL 1 %q \"sentinel\" \"User Commands\"\n", day)
	b.WriteString(".SH NAME\nsentinel \\- " + roffText(strings.TrimSuffix(app.Help, ".")) + "\n")
	b.WriteString(".SH SYNOPSIS\n.B sentinel\n.I COMMAND\n[\\fIFLAGS\\fR] [\\fIARGUMENTS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roffText(app.Help) + "\n" +
		"Every command, its flags and examples follow; \\fBsentinel\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR shows the same.\n")
	b.WriteString(".SH GLOBAL FLAGS\n")
	manFlags(&b, app.Flags)
	b.WriteString(".SH COMMANDS\n")
	for _, node := range app.Leaves(true) {
		b.WriteString(".SS \"sentinel " + roffText(node.Summary()) + "\"\n")
		b.WriteString(roffText(node.Help) + "\n")
		if node.Detail != "" {
			b.WriteString(".PP\n.nf\n" + roffText(node.Detail) + "\n.fi\n")
		}
		var flags []*kong.Flag
		for _, group := range node.AllFlags(true) {
			for _, f := range group {
				if !isGlobalFlag(app, f) {
					flags = append(flags, f)
				}
			}
		}
		manFlags(&b, flags)
	}
	b.WriteString(`.SH EXIT STATUS
0 ok, 1 error, 2 usage (a bad flag or argument).
\fBsentinel exec\fR exits with its child's code: 126/127 when the child cannot be started,
128+N when signal N killed it.
.SH ENVIRONMENT
.TP
.B SENTINEL_STORE
\-\-store: the session store URL.
.TP
.B SENTINEL_POLICY
\-\-policy: the policy file.
.TP
.B SENTINEL_IDENTITY_SOURCE
\-\-identity\-source: sts or os.
.TP
.B SENTINEL_LOG_FILE
\-\-log\-file: the decision log.
.TP
.B AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE
Where profiles are read from.
.SH SEE ALSO
The documentation in the source repository: docs/commands.md, docs/policy\-reference.md,
docs/revocation.md, docs/stores.md, docs/install.md.
`)
	return b.String()
}

func manFlags(b *strings.Builder, flags []*kong.Flag) {
	for _, f := range flags {
		if f.Hidden {
			continue
		}
		name := "\\-\\-" + roffText(strings.TrimPrefix(f.Summary(), "--"))
		if f.Short != 0 {
			name = "\\-" + string(f.Short) + ", " + name
		}
		help := f.Help
		if f.Default != "" && !strings.Contains(f.Summary(), "=") {
			help += " (default: " + f.Default + ")"
		}
		if f.Envs != nil {
			help += " ($" + strings.Join(f.Envs, ", $") + ")"
		}
		b.WriteString(".TP\n\\fB" + name + "\\fR\n" + roffText(help) + "\n")
	}
}

// isGlobalFlag reports whether f is one of the root's flags, listed once
// under GLOBAL FLAGS rather than under every command.
func isGlobalFlag(app *kong.Application, f *kong.Flag) bool {
	for _, g := range app.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// roffText escapes text for roff: backslashes, dashes, and lines that would
// otherwise start with a control character.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
