package bolt

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// MustExist: a missing file is ErrNotFound, named, and neither the file nor
// its folder is created; an existing store opens and reads as usual.
func TestOpenMustExist(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "missing", "sentinel.db")
	clock := ports.NewFakeClock(testStart)

	s, err := Open(path, clock, Options{MustExist: true})
	if !errors.Is(err, ports.ErrNotFound) || s != nil {
		t.Fatalf("Open(missing, MustExist) = %v, %v; want ErrNotFound", s, err)
	}
	if !strings.Contains(err.Error(), "no store at "+path) || !strings.Contains(err.Error(), "nothing recorded there yet") {
		t.Errorf("error %q does not say there is no store at %s yet", err, path)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the folder of the missing store was created (stat: %v)", err)
	}

	created := openForTest(t, path, clock)
	mustCreate(t, created, activeSession("s1", "alice", testStart))
	if err := created.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, clock, Options{MustExist: true})
	if err != nil {
		t.Fatalf("Open(existing, MustExist): %v", err)
	}
	defer func() { _ = s.Close() }()
	if got, err := s.GetSession(t.Context(), "s1"); err != nil || got.User != "alice" {
		t.Fatalf("GetSession after MustExist open = %+v, %v", got, err)
	}
}
