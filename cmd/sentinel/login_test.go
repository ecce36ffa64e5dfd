package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

const testLoginURL = "https://signin.example/federation?Action=login&SigninToken=SECRET-TOKEN"

func TestLoginShowOpensBrowserWithoutPrinting(t *testing.T) {
	var stdout, stderr bytes.Buffer
	var opened []string
	c := &LoginCmd{Profile: "prod", open: func(u string) error { opened = append(opened, u); return nil }}
	if err := c.show(&Env{Stdout: &stdout, Stderr: &stderr}, testLoginURL, 20*time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0] != testLoginURL {
		t.Errorf("opened %v, want the URL once", opened)
	}
	if stdout.Len() != 0 || strings.Contains(stderr.String(), "SECRET-TOKEN") || !strings.Contains(stderr.String(), "session 20m0s") {
		t.Errorf("stdout %q, stderr %q: want nothing on stdout and a note without the URL on stderr", stdout.String(), stderr.String())
	}
}

func TestLoginShowFallsBackToStdoutWithoutLeakingToStderr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	c := &LoginCmd{Profile: "prod", open: func(u string) error { return errors.New("opener " + u + " failed") }}
	if err := c.show(&Env{Stdout: &stdout, Stderr: &stderr}, testLoginURL, time.Hour); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != testLoginURL+"\n" {
		t.Errorf("stdout %q, want the URL alone", stdout.String())
	}
	if strings.Contains(stderr.String(), "SECRET-TOKEN") || !strings.Contains(stderr.String(), "could not open a browser (opener [sign-in URL] failed)") {
		t.Errorf("stderr %q: want the opener's error with the URL replaced", stderr.String())
	}
}

func TestLoginShowStdoutNeverOpens(t *testing.T) {
	var stdout, stderr bytes.Buffer
	c := &LoginCmd{Profile: "prod", Stdout: true, open: func(string) error { t.Error("opened a browser with --stdout"); return nil }}
	if err := c.show(&Env{Stdout: &stdout, Stderr: &stderr}, testLoginURL, time.Hour); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != testLoginURL+"\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}
