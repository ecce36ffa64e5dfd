package policyfile

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for WatchConfig's zero values.
const (
	// DefaultPoll is how often the watcher stats the file whatever the
	// events say: the fallback for filesystems that send none (NFS, some
	// container mounts) and for a watch that could not be set up.
	DefaultPoll = time.Second
	// DefaultSettle is how long after the first event of a burst the file
	// is read, so a save that truncates and then writes is read once, whole,
	// instead of refused half-written.
	DefaultSettle = 10 * time.Millisecond
)

// WatchConfig configures Watch.
type WatchConfig struct {
	// Poll: zero is DefaultPoll.
	Poll time.Duration
	// Settle: zero is DefaultSettle.
	Settle time.Duration
	// Logger gets a warning when the file watch cannot be set up (the poll
	// still runs) or reports an error. Nil discards.
	Logger *slog.Logger
}

// Watch makes Current read memory only and reloads the policy from a
// goroutine instead: DefaultSettle after a file event in the policy's
// directory (the directory, not the file: editors save by renaming a new
// file over the old one, and a Kubernetes ConfigMap swaps a symlink), and on
// every Poll. It returns once the watch is set up and the file checked, so
// no edit made before Watch returned is missed. The returned channel closes
// when ctx ends and the goroutine has stopped; Current then stats the file
// on every call again. Call Watch at most once.
func (s *Source) Watch(ctx context.Context, cfg WatchConfig) <-chan struct{} {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, names, err := s.newWatcher()
	if err != nil {
		log.Warn("policy file watch unavailable; checking the file on a timer instead",
			slog.String("policy", s.path), slog.Duration("every", cfg.Poll), slog.String("error", err.Error()))
	}
	s.check()
	s.watching.Store(true)
	done := make(chan struct{})
	go s.watch(ctx, w, names, cfg, log, done)
	return done
}

// newWatcher watches the policy's directory and, when the path is a
// symlink, the directory of the file it resolves to. names are the file
// names whose events matter there (see relevant).
func (s *Source) newWatcher() (*fsnotify.Watcher, map[string]bool, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, nil, err
	}
	dirs := []string{filepath.Dir(s.path)}
	names := map[string]bool{filepath.Base(s.path): true}
	if real, err := filepath.EvalSymlinks(s.path); err == nil {
		names[filepath.Base(real)] = true
		if filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	for _, d := range dirs {
		if err := w.Add(d); err != nil {
			_ = w.Close()
			return nil, nil, err
		}
	}
	return w, names, nil
}

// relevant: an event on the policy file's name (or its symlink target's),
// or on a name starting with ".." (a Kubernetes ConfigMap swaps ..data).
// Other files in the directory (a decision log beside the policy, say) do
// not make the watcher stat the policy.
func relevant(names map[string]bool, ev fsnotify.Event) bool {
	base := filepath.Base(ev.Name)
	return names[base] || strings.HasPrefix(base, "..")
}

func (s *Source) watch(ctx context.Context, w *fsnotify.Watcher, names map[string]bool, cfg WatchConfig, log *slog.Logger, done chan<- struct{}) {
	defer close(done)
	defer s.watching.Store(false)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer func() { _ = w.Close() }()
		events, errs = w.Events, w.Errors
	}
	poll := time.NewTicker(cfg.Poll)
	defer poll.Stop()
	var settled <-chan time.Time // non-nil while a burst of events settles
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			s.check()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if settled == nil && relevant(names, ev) {
				settled = time.After(cfg.Settle)
			}
		case <-settled:
			settled = nil
			s.check()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow drops events: check now, the poll covers the rest.
			log.Warn("policy file watch error; checking the file", slog.String("policy", s.path), slog.String("error", err.Error()))
			s.check()
		}
	}
}

// LogReloads returns an observer (for Subscribe) that logs every reload
// attempt: a loaded policy at info, a refused or unreadable one at error,
// saying what stays in force.
func LogReloads(log *slog.Logger) func(Reload) {
	return func(r Reload) {
		switch {
		case r.Err == nil:
			log.Info("policy loaded", slog.String("policy", r.Path), slog.String("version", r.Loaded))
		case r.InForce != "":
			log.Error("policy reload refused: the file is invalid; the last valid policy stays in force until it is fixed",
				slog.String("policy", r.Path), slog.String("in_force", r.InForce), slog.String("error", r.Err.Error()))
		default:
			log.Error("policy cannot be loaded: every credential request is refused until it is fixed",
				slog.String("policy", r.Path), slog.String("error", r.Err.Error()))
		}
	}
}
