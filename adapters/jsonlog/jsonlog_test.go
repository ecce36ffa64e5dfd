package jsonlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func sampleRecord(i int) ports.DecisionRecord {
	return ports.DecisionRecord{
		Time:              time.Date(2026, 4, 5, 6, 7, 8, i, time.UTC),
		RequestID:         fmt.Sprintf("%016x", i),
		User:              "alice",
		UserARN:           "arn:aws:iam::123456789012:user/alice",
		IdentitySource:    "sts",
		Profile:           "prod",
		Mode:              "server",
		SessionID:         "0123456789abcdef0123456789abcdef",
		Effect:            "deny",
		RuleEffect:        "require_approval",
		Rule:              "prod-approval",
		RuleIndex:         i,
		Reason:            "needs approval \"quoted\"\nand a newline",
		Override:          "approval:42",
		SourceIdentity:    "sentinel:alice:abc",
		ServedDuration:    "15m0s",
		CredentialsExpire: time.Date(2026, 4, 5, 7, 7, 8, 0, time.UTC),
		Error:             "",
		PolicyVersion:     "sha256:0123456789abcdef",
		Outcome:           "deny",
	}
}

// readLines parses every line of path as a DecisionRecord.
func readLines(t *testing.T, data []byte) []ports.DecisionRecord {
	t.Helper()
	var out []ports.DecisionRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r ports.DecisionRecord
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Error("the log does not end with a newline")
	}
	return out
}

func TestRecordRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []ports.DecisionRecord{sampleRecord(1), {Time: time.Unix(0, 0).UTC(), Effect: "allow", Reason: "minimal"}}
	for _, r := range want {
		if err := l.Record(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != len(want) {
		t.Fatalf("%d lines; want %d:\n%s", n, len(want), data)
	}
	got := readLines(t, data)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestOpenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	for i := range 3 {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Record(context.Background(), sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(path)
	got := readLines(t, data)
	if len(got) != 3 || got[0].RuleIndex != 0 || got[2].RuleIndex != 2 {
		t.Errorf("after three opens: %d records %+v; want 0, 1, 2 in order", len(got), got)
	}
}

func TestFileAndDirectoryModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "decisions.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v; want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("directory %s mode %v; want 0700", filepath.Base(d), di.Mode().Perm())
		}
	}
}

func TestConcurrentWritersNeverInterleave(t *testing.T) {
	const writers, perWriter = 8, 100
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	// Two Logs on one file stand for two sentinel processes sharing it.
	logs := make([]*Log, 2)
	for i := range logs {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
	}
	// A long reason makes each line several KiB, so a torn write would show.
	long := strings.Repeat("x", 4096)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			l := logs[w%len(logs)]
			for i := range perWriter {
				r := sampleRecord(w*perWriter + i)
				r.Reason = long
				if err := l.Record(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(path)
	got := readLines(t, data)
	if len(got) != writers*perWriter {
		t.Fatalf("%d records; want %d", len(got), writers*perWriter)
	}
	seen := make(map[int]bool, len(got))
	for _, r := range got {
		if r.Reason != long || seen[r.RuleIndex] {
			t.Fatalf("record %d damaged or duplicated", r.RuleIndex)
		}
		seen[r.RuleIndex] = true
	}
}

// countingWriter records the size of each Write call.
type countingWriter struct {
	mu     sync.Mutex
	writes []int
	buf    bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, len(p))
	return c.buf.Write(p)
}

// Every Write holds whole lines, every line is written exactly once, and
// records share Writes instead of one each.
func TestWritesHoldWholeLines(t *testing.T) {
	var w countingWriter
	l := New(&w)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := l.Record(context.Background(), sampleRecord(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) == 0 || len(w.writes) >= 200 {
		t.Fatalf("%d Write calls for 200 records", len(w.writes))
	}
	off := 0
	data := w.buf.Bytes()
	for i, n := range w.writes {
		if n == 0 || data[off+n-1] != '\n' {
			t.Fatalf("write %d (%d bytes) does not end a line", i, n)
		}
		off += n
	}
	if got := readLines(t, data); len(got) != 200 {
		t.Errorf("%d records parsed, want 200", len(got))
	}
	t.Logf("200 concurrent records in %d writes", len(w.writes))
}

// With a negative FlushInterval a Record returns only after its own line
// has been written.
func TestUnbufferedRecordReturnsAfterItsLineIsWritten(t *testing.T) {
	var w countingWriter
	l := New(&w, Options{FlushInterval: -1})
	for i := range 5 {
		if err := l.Record(context.Background(), sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
		if got := len(readLines(t, w.buf.Bytes())); got != i+1 {
			t.Fatalf("after Record %d returned, %d lines written", i+1, got)
		}
	}
}

type failingWriter struct{ n int }

func (f failingWriter) Write(p []byte) (int, error) {
	if f.n < 0 {
		return 0, errors.New("disk full")
	}
	return min(f.n, len(p)), nil
}

// A buffered line goes out within the interval with no Flush or Close,
// and one Write carries the lines recorded meanwhile.
func TestBufferedLinesGoOutWithinTheInterval(t *testing.T) {
	var w countingWriter
	l := New(&w, Options{FlushInterval: 20 * time.Millisecond})
	defer l.Close()
	for i := range 3 {
		if err := l.Record(context.Background(), sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The bound is slack for a loaded machine; the timer fires after 20 ms.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		n, data := len(w.writes), bytes.Clone(w.buf.Bytes())
		w.mu.Unlock()
		if n > 0 {
			if got := len(readLines(t, data)); got != 3 || n != 1 {
				t.Fatalf("%d lines in %d writes, want 3 in 1", got, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the buffered lines were never written")
		}
	}
}

// Close writes what is still buffered: a clean exit loses no line.
func TestCloseWritesTheBuffer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	l, err := Open(path, Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := l.Record(context.Background(), sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Fatalf("written before the interval or Close: %d bytes", len(data))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if got := len(readLines(t, data)); got != 10 {
		t.Fatalf("%d lines after Close, want 10", got)
	}
}

// A failed Write is reported: at once without buffering; by Flush, or by
// the next Record when the timer wrote, with buffering.
func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		w    failingWriter
	}{
		{"short write", failingWriter{n: 3}},
		{"error", failingWriter{n: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := New(tt.w, Options{FlushInterval: -1}).Record(context.Background(), sampleRecord(0)); err == nil {
				t.Error("unbuffered Record reported success")
			}
			l := New(tt.w, Options{FlushInterval: time.Hour})
			if err := l.Record(context.Background(), sampleRecord(0)); err != nil {
				t.Fatalf("buffered Record: %v", err)
			}
			if err := l.Flush(); err == nil {
				t.Error("Flush reported success")
			}
		})
	}
	t.Run("the timer's failure reported by the next call", func(t *testing.T) {
		w := &signallingWriter{wrote: make(chan struct{}, 1)}
		l := New(w, Options{FlushInterval: time.Millisecond})
		if err := l.Record(context.Background(), sampleRecord(0)); err != nil {
			t.Fatal(err)
		}
		<-w.wrote // the timer's Write is failing; Flush waits for it to end
		if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("the next call after the timer's failed Write: err = %v", err)
		}
		if err := l.Record(context.Background(), sampleRecord(1)); err != nil {
			t.Errorf("an error already reported came back: %v", err)
		}
	})
}

// signallingWriter fails every Write and says when one happened.
type signallingWriter struct{ wrote chan struct{} }

func (s *signallingWriter) Write([]byte) (int, error) {
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return 0, errors.New("disk full")
}

func TestRecordAfterClose(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "d.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), sampleRecord(0)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Record after Close = %v; want os.ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestNewDoesNotCloseCallersWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "own.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := New(f)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("still open\n"); err != nil {
		t.Errorf("caller's file was closed: %v", err)
	}
}

// The hand-written encoder says exactly what encoding/json would.
func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 23, 4, 58, 123456789, time.FixedZone("x", 3600))
	records := []ports.DecisionRecord{
		{},
		{Time: at, RequestID: "r1", User: "alice", Profile: "prod", Mode: "server", Effect: "deny", RuleIndex: -1, Reason: "no matching rule"},
		{Time: at, RequestID: "r2", User: "al\"ice\n<&>", UserARN: "arn:aws:sts::1:assumed-role/A/b", IdentitySource: "sts", Profile: "p\x00", Mode: "cli",
			SessionID: "s", Effect: "allow", RuleEffect: "allow", Rule: "r", RuleIndex: 3, Reason: "ok \u2028", Override: "breakglass:x",
			SourceIdentity: "sentinel.alice.r2", ServedDuration: "15m0s", CredentialsExpire: at.Add(time.Minute), Error: "bad \xff utf8",
			PolicyVersion: "sha256:0123456789abcdef", Outcome: "error", Action: "revoke", Target: "user:al\"ice"},
	}
	for i, r := range records {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := appendRecord(nil, r)
		var gotV, wantV map[string]any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("record %d: not JSON: %v\n%s", i, err, got)
		}
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendRecord(f *testing.F) {
	f.Add("alice", "prod", "reason", "err", int64(0), -1)
	f.Fuzz(func(t *testing.T, user, profile, reason, errText string, nanos int64, index int) {
		r := ports.DecisionRecord{Time: time.Unix(0, nanos).UTC(), User: user, Profile: profile, Reason: reason, Error: errText, RuleIndex: index}
		want, err := json.Marshal(r)
		if err != nil {
			t.Skip("encoding/json refuses it too") // years outside 0-9999
		}
		var gotV, wantV map[string]any
		if err := json.Unmarshal(appendRecord(nil, r), &gotV); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		_ = json.Unmarshal(want, &wantV)
		if !reflect.DeepEqual(gotV, wantV) {
			t.Fatalf("differs from encoding/json:\n got %v\nwant %v", gotV, wantV)
		}
	})
}

// Past 64 KiB the buffer is written at once, off the Record call, without
// waiting for the interval.
func TestAFullBufferIsWrittenWithoutWaiting(t *testing.T) {
	var w countingWriter
	l := New(&w, Options{FlushInterval: time.Hour})
	defer l.Close()
	r := sampleRecord(0)
	r.Reason = strings.Repeat("x", 1024)
	n := 0
	for ; n*1100 < flushSoon+4096; n++ {
		if err := l.Record(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		written := len(w.writes)
		w.mu.Unlock()
		if written > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records (over 64 KiB) still unwritten with an hour-long interval", n)
		}
	}
}
