package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestMapError(t *testing.T) {
	const path = "/state/sentinel/sessions.db"
	tests := []struct {
		name    string
		in      error
		want    error
		mention string
	}{
		{"lock wait ran out", berrors.ErrTimeout, ports.ErrUnavailable, "locked by another process (waited 2s)"},
		{"not a bolt file", berrors.ErrInvalid, ports.ErrCorrupt, "not a bbolt database"},
		{"version mismatch", berrors.ErrVersionMismatch, ports.ErrCorrupt, path},
		{"checksum", berrors.ErrChecksum, ports.ErrCorrupt, path},
		{"key too large", berrors.ErrKeyTooLarge, ports.ErrInvalidArgument, path},
		{"value too large", berrors.ErrValueTooLarge, ports.ErrInvalidArgument, path},
		{"key required", berrors.ErrKeyRequired, ports.ErrInvalidArgument, path},
		{"database closed", berrors.ErrDatabaseNotOpen, ports.ErrUnavailable, path},
		{"file gone", &fs.PathError{Op: "open", Path: path, Err: syscall.ENOENT}, ports.ErrUnavailable, "missing"},
		{"permission", &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}, ports.ErrUnavailable, "permission"},
		{"disk full", &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}, ports.ErrUnavailable, path},
		{"already a ports error", fmt.Errorf("x: %w", ports.ErrConflict), ports.ErrConflict, "x: "},
		{"caller cancelled", context.Canceled, context.Canceled, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapError(path, 2*time.Second, tt.in)
			if !errors.Is(got, tt.want) {
				t.Errorf("mapError(%v) = %v, want one wrapping %v", tt.in, got, tt.want)
			}
			if !errors.Is(got, tt.in) {
				t.Errorf("mapError(%v) = %v lost the original error", tt.in, got)
			}
			if !strings.Contains(got.Error(), tt.mention) {
				t.Errorf("mapError(%v) = %q, want it to mention %q", tt.in, got, tt.mention)
			}
		})
	}
	if mapError(path, time.Second, nil) != nil {
		t.Error("mapError(nil) is not nil")
	}
}

func TestLockedErrorMessage(t *testing.T) {
	err := mapError("/s.db", 2*time.Second, berrors.ErrTimeout)
	want := "bolt: the store file /s.db is locked by another process (waited 2s); " +
		"is another sentinel stuck? retry, or use a server store (redis://, dynamodb://)"
	if err.Error() != want {
		t.Errorf("message\n%q\nwant\n%q", err, want)
	}
}
