package dynamo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// wire sits between the SDK and DynamoDB Local: it counts operations, can
// hold each read until let is closed, can refuse BatchGetItem as IAM does,
// and can hand back the first key of a BatchGetItem as unprocessed, as
// DynamoDB does past its size and capacity limits.
type wire struct {
	next        http.RoundTripper
	mu          sync.Mutex
	ops         map[string]int
	held        chan string   // each held read's operation, when set
	let         chan struct{} // reads wait for it, when set
	denyBatch   bool
	unprocessed bool
	cutBatch    bool // BatchGetItem replies come back cut in half
	// eventual counts reads sent without ConsistentRead: a revoke acknowledged
	// before the read might not be in an eventually consistent answer.
	eventual int
}

// consistent reports whether a GetItem or BatchGetItem body asks for
// strongly consistent reads (every table of a batch).
func consistent(op string, body []byte) bool {
	var in struct {
		ConsistentRead bool
		RequestItems   map[string]struct{ ConsistentRead bool }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return false
	}
	if op == "GetItem" {
		return in.ConsistentRead
	}
	for _, ka := range in.RequestItems {
		if !ka.ConsistentRead {
			return false
		}
	}
	return len(in.RequestItems) > 0
}

func (w *wire) count(op string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ops[op]
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	w.mu.Lock()
	w.ops[op]++
	hold, deny, unprocessed := w.held, w.denyBatch && op == "BatchGetItem", w.unprocessed && op == "BatchGetItem"
	cut := w.cutBatch && op == "BatchGetItem"
	w.mu.Unlock()
	if op == "GetItem" || op == "BatchGetItem" {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if !consistent(op, body) {
			w.mu.Lock()
			w.eventual++
			w.mu.Unlock()
		}
		if hold != nil {
			hold <- op
			<-w.let
		}
	}
	if deny {
		body := `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::111122223333:assumed-role/broker/i-0 is not authorized to perform: dynamodb:BatchGetItem on resource: table"}`
		return &http.Response{StatusCode: http.StatusBadRequest, Request: req,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"test"}},
			Body:   io.NopCloser(strings.NewReader(body))}, nil
	}
	var sent []byte
	if unprocessed {
		var err error
		if sent, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := w.next.RoundTrip(req)
	if err == nil && cut {
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body[:len(body)/2])), -1
		resp.Header.Del("Content-Length")
		return resp, nil
	}
	if err != nil || !unprocessed || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	return moveFirstToUnprocessed(sent, resp)
}

// moveFirstToUnprocessed rewrites a BatchGetItem reply so its request's
// first key (in sent, the request's body) comes back unprocessed, its item
// left out.
func moveFirstToUnprocessed(sent []byte, resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var in struct {
		RequestItems map[string]struct {
			Keys           []map[string]map[string]string
			ConsistentRead bool
		}
	}
	if err := json.Unmarshal(sent, &in); err != nil {
		return nil, err
	}
	var out struct {
		Responses       map[string][]map[string]any
		UnprocessedKeys map[string]any
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	for table, ka := range in.RequestItems {
		first := ka.Keys[0][attrID]["S"]
		var kept []map[string]any
		for _, it := range out.Responses[table] {
			if id, _ := it[attrID].(map[string]any); id["S"] != first {
				kept = append(kept, it)
			}
		}
		out.Responses[table] = kept
		out.UnprocessedKeys = map[string]any{table: map[string]any{"Keys": ka.Keys[:1], "ConsistentRead": ka.ConsistentRead}}
	}
	rewritten, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rewritten))
	resp.ContentLength = int64(len(rewritten))
	resp.Header.Del("X-Amz-Crc32")
	return resp, nil
}

// wiredStore is a store on DynamoDB Local through w, with sessions ids[i].
func wiredStore(t *testing.T, w *wire, n int) (*Store, []string) {
	t.Helper()
	w.next, w.ops = http.DefaultTransport, map[string]int{}
	client := dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(testenv.DynamoDBEndpoint(t)),
		Credentials:                     credentials.NewStaticCredentialsProvider("test", "test", ""),
		DisableValidateResponseChecksum: true,
		Retryer:                         newRetryer(),
		HTTPClient:                      &http.Client{Transport: w},
	})
	table := newTestTable(t, client)
	rec := sampleSession()
	s := New(client, table, ports.NewFakeClock(rec.CreatedAt))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = randomHex(16)
		rec.ID, rec.User, rec.Version = ids[i], fmt.Sprintf("user-%d", i), 0
		if _, err := s.CreateSession(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	return s, ids
}

// readAllAtOnce holds one read on the wire, asks for every id (each twice)
// and a missing one behind it, lets the wire go, and checks every answer.
func readAllAtOnce(t *testing.T, w *wire, s *Store, ids []string) {
	t.Helper()
	w.mu.Lock()
	w.held, w.let = make(chan string, 64), make(chan struct{})
	w.mu.Unlock()
	missing := randomHex(16)
	asks := append(append([]string{}, ids...), ids...)
	asks = append(asks, missing)
	var wg sync.WaitGroup
	errs := make(chan error, len(asks)+1)
	ask := func(id string) {
		defer wg.Done()
		got, err := s.GetSession(t.Context(), id)
		switch {
		case id == missing:
			if !errors.Is(err, ports.ErrNotFound) {
				errs <- fmt.Errorf("missing session: %w, want ErrNotFound", err)
			}
		case err != nil || got.ID != id:
			errs <- fmt.Errorf("GetSession(%s) = %q, %w", id, got.ID, err)
		}
	}
	wg.Add(1)
	go ask(ids[0])
	<-w.held
	for _, id := range asks[1:] {
		wg.Add(1)
		go ask(id)
	}
	testkit.Eventually(t, 10*time.Second, "the reads to gather", func() bool { return s.gets[s.table].group.Waiting() == len(asks)-1 })
	close(w.let)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	w.mu.Lock()
	if w.eventual != 0 {
		t.Errorf("%d reads sent without ConsistentRead: a revoke acknowledged before them might be missed", w.eventual)
	}
	w.held, w.let = nil, nil
	w.mu.Unlock()
}

// Session reads asked for while one is on the wire go out as one
// BatchGetItem of the distinct ids, strongly consistent, and each caller
// gets its own record (or ErrNotFound).
func TestSessionReadsGatherIntoBatchGetItem(t *testing.T) {
	w := &wire{}
	s, ids := wiredStore(t, w, 20)
	readAllAtOnce(t, w, s, ids)
	if got := w.count("GetItem"); got != 1 {
		t.Errorf("%d GetItems, want the first read alone", got)
	}
	if got := w.count("BatchGetItem"); got != 1 {
		t.Errorf("%d BatchGetItems, want the 40 gathered reads of 21 ids in one", got)
	}
}

// A key DynamoDB leaves unprocessed is read again on its own.
func TestUnprocessedKeysAreReadAgain(t *testing.T) {
	w := &wire{unprocessed: true}
	s, ids := wiredStore(t, w, 10)
	readAllAtOnce(t, w, s, ids)
	if w.count("BatchGetItem") != 1 || w.count("GetItem") != 2 {
		t.Errorf("%d BatchGetItems and %d GetItems; want 1, and 2 (the first read, the unprocessed key)",
			w.count("BatchGetItem"), w.count("GetItem"))
	}
}

// A batch whose reply is cut short is read again one by one: every caller
// still gets its own record.
func TestCutBatchReplyIsReadAgain(t *testing.T) {
	w := &wire{cutBatch: true}
	s, ids := wiredStore(t, w, 6)
	readAllAtOnce(t, w, s, ids)
	// The first read alone, then the 7 gathered distinct ids one by one.
	if w.count("BatchGetItem") != 1 || w.count("GetItem") != 1+len(ids)+1 {
		t.Errorf("%d BatchGetItems and %d GetItems; want 1 and %d", w.count("BatchGetItem"), w.count("GetItem"), 1+len(ids)+1)
	}
}

// A principal without dynamodb:BatchGetItem is served with GetItems, and
// BatchGetItem is not tried again.
func TestBatchGetItemDeniedFallsBackToGetItem(t *testing.T) {
	w := &wire{denyBatch: true}
	s, ids := wiredStore(t, w, 8)
	for range 2 {
		readAllAtOnce(t, w, s, ids)
	}
	if got := w.count("BatchGetItem"); got != 1 {
		t.Errorf("BatchGetItem tried %d times, want once (then remembered as denied)", got)
	}
	// Each round: the first read alone, then the gathered distinct ids
	// (every id again, and the missing one) one by one.
	if want := 2 * (1 + len(ids) + 1); w.count("GetItem") != want {
		t.Errorf("%d GetItems, want %d", w.count("GetItem"), want)
	}
}
