package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// TestRunStoreOpensOnceAndCloses checks the run's store: a missing bolt
// file is "not found" for open and is not kept, create then makes it, every
// later use gets that same store whatever it asks for, and close closes it.
func TestRunStoreOpensOnceAndCloses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "sentinel.db")
	url := "bolt://" + path
	stores := &runStore{url: url, clock: ports.SystemClock{}}

	if _, err := stores.open(ctx); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("open of a missing bolt file: err = %v, want ports.ErrNotFound", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open created %s (stat err %v)", path, err)
	}
	created, err := stores.create(ctx)
	if err != nil {
		t.Fatalf("create after a failed open: %v", err)
	}
	again, err := stores.open(ctx)
	if err != nil {
		t.Fatalf("open after create: %v", err)
	}
	if again != created {
		t.Fatal("open after create dialled a second store; want the run's one store")
	}

	stores.close()
	stores.close() // a second close is harmless
	if _, err := created.GetSession(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("the run's store after close: err = %v, want the closed store's ports.ErrUnavailable", err)
	}
}
