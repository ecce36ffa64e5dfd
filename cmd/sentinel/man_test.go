package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// manEnv is the environment the checked-in page and the release's page are
// rendered in: HOME is "~", so defaults read ~/.local/share/... for everyone.
func manEnv(stdout *bytes.Buffer) *Env {
	return &Env{Stdout: stdout, Stderr: stdout, Getenv: func(k string) string {
		if k == "HOME" {
			return "~"
		}
		return ""
	}}
}

// docs/man/sentinel.1 is `sentinel man`, so the page cannot drift from the
// CLI (regenerate with SENTINEL_UPDATE_DOCS=1 go test ./cmd/sentinel -run TestManPage).
func TestManPage(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"man"}, manEnv(&out)); code != exitOK {
		t.Fatalf("sentinel man exited %d: %s", code, out.String())
	}
	want := out.String()
	path := filepath.Join(repoRoot(t), "docs", "man", "sentinel.1")
	checkGenerated(t, filepath.Join("docs", "man", "sentinel.1"), want, "TestManPage")

	// Every command is in the page, with its examples, and the defaults are the user's own.
	var cli CLI
	parser, err := newParser(&cli, manEnv(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range parser.Model.Leaves(true) {
		heading := `.SS "sentinel ` + roffText(node.Summary()) + `"`
		if !strings.Contains(want, heading+"\n") {
			t.Errorf("the page has no section %s", heading)
		}
	}
	if !strings.Contains(want, `sentinel exec \-\-server \-\-profile prod \-\- terraform apply`) {
		t.Error("the page lacks the exec example")
	}
	if !strings.Contains(want, `bolt://~/.local/share/sentinel/sentinel.db`) {
		t.Error("the page's store default is not ~/.local/share/sentinel/sentinel.db")
	}
	if !strings.HasPrefix(want, `.TH SENTINEL 1 "" `) {
		t.Errorf("an undated build must give an undated page: %q", strings.SplitN(want, "\n", 2)[0])
	}

	// man renders it without a warning, where man is installed.
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man is not installed: the page was not rendered")
		return
	}
	cmd := exec.Command("man", "--warnings", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil || stderr.Len() != 0 || !strings.Contains(string(rendered), "sentinel exec") {
		t.Errorf("man -l docs/man/sentinel.1: %v\n%s", err, stderr.String())
	}
}

// A release build's page carries the release day.
func TestManPageDate(t *testing.T) {
	t.Parallel()
	var cli CLI
	parser, err := newParser(&cli, manEnv(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	page := manPage(parser.Model, "2026-12-06T21:30:00Z")
	if !strings.HasPrefix(page, `.TH SENTINEL 1 "2026-12-06" `) {
		t.Errorf("heading %q, want the day 2026-12-06", strings.SplitN(page, "\n", 2)[0])
	}
}

func TestRoffText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`--store=C:\x`:        `\-\-store=C:\ex`,
		"a\n.b\n'c\nd.e":      "a\n\\&.b\n\\&'c\nd.e",
		"plain text, no dash": "plain text, no dash",
	} {
		if got := roffText(in); got != want {
			t.Errorf("roffText(%q) = %q, want %q", in, got, want)
		}
	}
}
