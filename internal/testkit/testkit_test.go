package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type line struct {
	N int `json:"n"`
}

func TestReadJSONLinesLeavesAnUnfinishedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.jsonl")
	if got := ReadJSONLines[line](t, path); got != nil {
		t.Fatalf("missing file read as %v, want nothing", got)
	}
	if err := os.WriteFile(path, []byte("{\"n\":1}\n\n{\"n\":2}\n{\"n\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ReadJSONLines[line](t, path)
	if want := []line{{1}, {2}}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// fatalRecorder records a Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	_ = args
}

func TestReadJSONLinesFailsOnABadLine(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	decodeLines[line](rec, "x.jsonl", []byte("{\"n\":1}\nnot json\n"))
	if !strings.Contains(rec.msg, "bad JSON line") {
		t.Fatalf("a bad line was not reported: %q", rec.msg)
	}
}

func TestEventually(t *testing.T) {
	var calls atomic.Int32
	Eventually(t, 5*time.Second, "the third call", func() bool { return calls.Add(1) >= 3 })
	if calls.Load() != 3 {
		t.Fatalf("cond called %d times, want 3", calls.Load())
	}
}

func TestEnvironExtraWins(t *testing.T) {
	got := Environ(map[string]string{"A": "1", "B": "2"}, map[string]string{"B": "3", "C": "4"})
	if want := []string{"A=1", "B=3", "C=4"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := Environ(nil, map[string]string{"X": "y"}); !slices.Equal(got, []string{"X=y"}) {
		t.Fatalf("nil base: got %v", got)
	}
}

func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_, _ = b.Write([]byte("x"))
		}
	}()
	_ = b.String() // concurrent read: the race detector checks the lock
	<-done
	if got := b.String(); got != strings.Repeat("x", 100) {
		t.Fatalf("got %d bytes, want 100", len(got))
	}
}

func TestHomeEnvMakesPrivateFolders(t *testing.T) {
	dir := t.TempDir()
	env := HomeEnv(t, dir)
	for _, name := range []string{"HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "TMPDIR"} {
		p := env[name]
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Errorf("%s = %q, want a folder under %s", name, p, dir)
			continue
		}
		if info, err := os.Stat(p); err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 folder", name, info, err)
		}
	}
	if env["PATH"] != os.Getenv("PATH") || env["AWS_EC2_METADATA_DISABLED"] != "true" {
		t.Errorf("PATH or AWS_EC2_METADATA_DISABLED not set as expected: %v", env)
	}
}

func TestServerCertVerifiesAgainstItsCA(t *testing.T) {
	files := ServerCert(t, t.TempDir(), "127.0.0.1", "localhost")
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "127.0.0.1"}); err == nil {
		t.Error("the certificate verified without its CA")
	}
}
