package dynamo

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

var testNow = time.Date(2031, 3, 14, 9, 26, 53, 0, time.UTC)

func TestInitTableIsIdempotent(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	table := newTestTable(t, client)
	if err := InitTable(t.Context(), client, table); err != nil {
		t.Fatalf("second InitTable on a correct table: %v", err)
	}

	desc, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	if desc.Table.TableStatus != types.TableStatusActive {
		t.Errorf("table status %q, want ACTIVE", desc.Table.TableStatus)
	}
	for i, name := range TableNames(table) {
		desc, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeTable(%s): %v", name, err)
		}
		if d := tableDiffs(desc.Table, tableSpecs[i]); len(d) > 0 {
			t.Errorf("InitTable made table %s that differs from the %s layout: %v", name, tableSpecs[i].records, d)
		}
	}
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != attrTTL {
		t.Errorf("TTL %q on %q, want ENABLED on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName), attrTTL)
	}

	// Data written between the two inits survives a third.
	store := New(client, table, ports.NewFakeClock(testNow))
	ses := sampleSession()
	if _, err := store.CreateSession(t.Context(), ses); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := InitTable(t.Context(), client, table); err != nil {
		t.Fatalf("third InitTable: %v", err)
	}
	if _, err := store.GetSession(t.Context(), ses.ID); err != nil {
		t.Errorf("GetSession after InitTable again: %v", err)
	}
}

// A foreign table under any of the three names stops InitTable there, with
// every difference named; the tables before it are made, those after it not.
func TestInitTableRefusesAnotherLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		foreign int // index in TableNames
		mention []string
	}{
		{0, []string{"sessions layout", `index "by_user" is missing`, `index "by_instance" is missing`}},
		{1, []string{"approval requests layout", `index "by_requester" is missing`, `index "by_status" is missing`}},
		{2, []string{"break-glass events layout", `index "by_invoker" is missing`, `index "by_profile" is missing`}},
	}
	for _, tt := range tests {
		client := testClient(t)
		table := "sentinel-test-other-" + randomHex(8)
		names := TableNames(table)
		_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
			TableName:            aws.String(names[tt.foreign]),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatalf("CreateTable: %v", err)
		}
		t.Cleanup(func() { deleteTables(t, client, names...) })

		err = InitTable(t.Context(), client, table)
		if !errors.Is(err, ports.ErrInvalidArgument) {
			t.Fatalf("InitTable with a foreign %s = %v, want ErrInvalidArgument", names[tt.foreign], err)
		}
		for _, want := range append(tt.mention, `"`+names[tt.foreign]+`"`, `table partition key is "pk", want "id"`, `key attribute "pk" has type "N"`) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("InitTable error %q does not mention %q", err, want)
			}
		}
		for i, name := range names {
			_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			var missing *types.ResourceNotFoundException
			if exists := !errors.As(err, &missing); exists != (i <= tt.foreign) {
				t.Errorf("foreign table %d: table %s exists: %v (DescribeTable: %v); want only the tables up to the foreign one", tt.foreign, name, exists, err)
			}
		}
	}
}

func TestMissingTable(t *testing.T) {
	t.Parallel()
	table := "sentinel-test-never-created-" + randomHex(8)
	store := New(testClient(t), table, ports.NewFakeClock(testNow))
	ses, req, ev := sampleSession(), sampleRequest(), sampleEvent()
	sessions, requests, events := TableNames(table)[0], TableNames(table)[1], TableNames(table)[2]
	calls := map[string]struct {
		table string
		call  func() error
	}{
		"GetSession":    {sessions, func() error { _, err := store.GetSession(t.Context(), ses.ID); return err }},
		"CreateSession": {sessions, func() error { _, err := store.CreateSession(t.Context(), ses); return err }},
		"UpdateSession": {sessions, func() error { _, err := store.UpdateSession(t.Context(), ses); return err }},
		"TouchSession":  {sessions, func() error { _, err := store.TouchSession(t.Context(), ses.ID, testNow, 1); return err }},
		"ListSessionsByUser": {sessions, func() error {
			_, err := store.ListSessionsByUser(t.Context(), "alice", ports.Page{Limit: 1})
			return err
		}},
		"ListSessionsByServerInstance": {sessions, func() error {
			_, err := store.ListSessionsByServerInstance(t.Context(), "i", ports.Page{Limit: 1})
			return err
		}},
		"ExpireLapsedSessions": {sessions, func() error { _, err := store.ExpireLapsedSessions(t.Context(), testNow); return err }},
		"CreateRequest":        {requests, func() error { _, err := store.CreateRequest(t.Context(), req); return err }},
		"UpdateRequest":        {requests, func() error { _, err := store.UpdateRequest(t.Context(), req); return err }},
		"ListRequestsByStatus": {requests, func() error {
			_, err := store.ListRequestsByStatus(t.Context(), ports.RequestExpired, ports.Page{Limit: 1})
			return err
		}},
		"ExpireLapsedRequests": {requests, func() error { _, err := store.ExpireLapsedRequests(t.Context(), testNow); return err }},
		"CreateBreakGlass":     {events, func() error { _, err := store.CreateBreakGlass(t.Context(), ev); return err }},
		"GetBreakGlass":        {events, func() error { _, err := store.GetBreakGlass(t.Context(), ev.ID); return err }},
		"ListBreakGlassByInvoker": {events, func() error {
			_, err := store.ListBreakGlassByInvoker(t.Context(), "alice", ports.Page{Limit: 1})
			return err
		}},
		"ExpireLapsedBreakGlass": {events, func() error { _, err := store.ExpireLapsedBreakGlass(t.Context(), testNow); return err }},
	}
	for name, c := range calls {
		err := c.call()
		want := `table "` + c.table + "\" does not exist: run `sentinel store init --store dynamodb://" + table + "`"
		if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s on a missing table = %v; want ErrUnavailable saying %q", name, err, want)
		}
	}
}

// An endpoint that accepts connections and drops them at once: every attempt
// fails, so the call must give up after the bounded retries, quickly.
func TestUnreachableEndpointFailsFast(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	store := New(clientFor("http://"+ln.Addr().String()), "sessions", ports.NewFakeClock(testNow))

	began := time.Now()
	_, err = store.GetSession(t.Context(), sampleSession().ID)
	took := time.Since(began)
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("GetSession against a dropping endpoint = %v, want ErrUnavailable", err)
	}
	if n := accepted.Load(); n != retryMaxAttempts {
		t.Errorf("%d connection attempts, want exactly %d (bounded retries)", n, retryMaxAttempts)
	}
	// Four backoffs of at most retryMaxBackoff each, plus slack for -race.
	if limit := (retryMaxAttempts-1)*retryMaxBackoff + 5*time.Second; took > limit {
		t.Errorf("GetSession took %s to fail, want under %s", took, limit)
	}
	t.Logf("failed after %d attempts in %s: %v", accepted.Load(), took.Round(time.Millisecond), err)

	// A refused connection (nothing listening) is unavailable too, and the
	// caller's deadline bounds the whole call.
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	began = time.Now()
	_, err = New(clientFor("http://"+addr), "sessions", ports.NewFakeClock(testNow)).GetSession(ctx, sampleSession().ID)
	if err == nil || time.Since(began) > 5*time.Second {
		t.Errorf("GetSession against a closed port with a 300ms deadline = %v after %s", err, time.Since(began))
	}
	if !errors.Is(err, ports.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetSession against a closed port = %v, want ErrUnavailable or the deadline", err)
	}
}

// Open builds its client from the SDK's default chain. Not parallel: it sets
// environment variables.
func TestOpen(t *testing.T) {
	endpoint := testenv.DynamoDBEndpoint(t)
	isolateAWSEnv(t)
	clock := ports.NewFakeClock(testNow)

	if _, err := Open(t.Context(), Options{Table: "tbl", Endpoint: endpoint}, clock); !errors.Is(err, ports.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "region") {
		t.Errorf("Open without a region = %v, want ErrInvalidArgument naming the region", err)
	}
	if _, err := Open(t.Context(), Options{Region: "us-east-1"}, clock); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("Open without a table = %v, want ErrInvalidArgument", err)
	}

	table := newTestTable(t, testClient(t))
	store, err := Open(t.Context(), Options{Table: table, Region: "us-east-1", Endpoint: endpoint}, clock)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	created, err := store.CreateSession(t.Context(), sampleSession())
	if err != nil {
		t.Fatalf("CreateSession through Open's client: %v", err)
	}
	got, err := store.GetSession(t.Context(), created.ID)
	if err != nil || !reflect.DeepEqual(got, created) {
		t.Errorf("GetSession through Open's client = %+v, %v; want %+v", got, err, created)
	}

	missing, err := Open(t.Context(), Options{Table: "sentinel-test-absent-" + randomHex(4), Region: "us-east-1", Endpoint: endpoint}, clock)
	if err != nil {
		t.Fatalf("Open of a missing table: %v (Open must not call DynamoDB)", err)
	}
	_, err = missing.GetSession(t.Context(), created.ID)
	if want := "?endpoint="; !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), want) {
		t.Errorf("GetSession on a missing table opened with an endpoint = %v; want the init hint with %q", err, want)
	}
}

// The item keeps the TTL attribute in step with the lease and the revoke,
// and expiry is still decided by the clock, never by the TTL.
func TestTTLAttributeWritten(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	table := newTestTable(t, client)
	clock := ports.NewFakeClock(testNow)
	store := New(client, table, clock)

	ses := sampleSession()
	ses.ExpiresAt = testNow.Add(-time.Hour) // long past in the fake clock's world
	created, err := store.CreateSession(t.Context(), ses)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if created.Status != ports.SessionExpired {
		t.Errorf("CreateSession of a lapsed lease reads %q, want expired", created.Status)
	}
	if got := rawTTL(t, client, table, ses.ID); got != ses.ExpiresAt.Add(Retention).Unix() {
		t.Errorf("ttl after create = %d, want lease end + retention %d", got, ses.ExpiresAt.Add(Retention).Unix())
	}
	stored := withStoredStatus(created, ports.SessionActive)
	stored.Status, stored.RevokedAt, stored.RevokedBy = ports.SessionRevoked, testNow.Add(time.Hour), "bob"
	if _, err := store.UpdateSession(t.Context(), stored); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	if got, want := rawTTL(t, client, table, ses.ID), testNow.Add(time.Hour+Retention).Unix(); got != want {
		t.Errorf("ttl after revoke = %d, want revoke + retention %d", got, want)
	}
}

// withStoredStatus undoes the read-time expiry view for a write.
func withStoredStatus(s ports.Session, st ports.SessionStatus) ports.Session {
	s.Status = st
	return s
}

func rawTTL(t *testing.T, client *dynamodb.Client, table, id string) int64 {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	n, ok := out.Item[attrTTL].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item has no numeric ttl: %v", out.Item[attrTTL])
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("ttl %q: %v", n.Value, err)
	}
	return v
}

func TestValidateTableName(t *testing.T) {
	t.Parallel()
	if MaxTableName != 255-len("-breakglass") {
		t.Fatalf("MaxTableName = %d, want 255 less the longest suffix", MaxTableName)
	}
	tests := []struct {
		name string
		ok   bool
		want string // in the error
	}{
		{"abc", true, ""},
		{"sentinel.sessions_v2-eu", true, ""},
		{strings.Repeat("a", MaxTableName), true, ""},
		{"ab", false, "too short"},
		{"", false, "too short"},
		{"sessions/prod", false, "A-Z a-z 0-9 _ . -"},
		{"séssions", false, "A-Z a-z 0-9 _ . -"},
		{strings.Repeat("a", MaxTableName+1), false, "at most 244"},
		{strings.Repeat("a", 247), false, "-breakglass"},
		{strings.Repeat("a", 255), false, "choose a shorter name"},
	}
	for _, tt := range tests {
		err := ValidateTableName(tt.name)
		if tt.ok != (err == nil) {
			t.Errorf("ValidateTableName(%d chars) = %v, want ok %v", len(tt.name), err, tt.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ValidateTableName(%d chars) = %v; want ErrInvalidArgument saying %q", len(tt.name), err, tt.want)
		}
	}
}

// A name whose derived tables would pass DynamoDB's 255 characters is
// refused before any table exists; the longest allowed name creates all
// three on DynamoDB Local.
func TestInitTableNameLengthLimit(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	prefix := "sentinel-test-" + randomHex(8) + "-"
	name := func(n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	// In case a refused init created some anyway: DynamoDB cannot even name
	// one longer than 255 characters, so those are not asked for.
	cleanup := func(table string) {
		t.Cleanup(func() {
			var valid []string
			for _, tn := range TableNames(table) {
				if len(tn) <= 255 {
					valid = append(valid, tn)
				}
			}
			deleteTables(t, client, valid...)
		})
	}

	for _, n := range []int{MaxTableName + 1, 250, 255} {
		table := name(n)
		cleanup(table)
		err := InitTable(t.Context(), client, table)
		if !errors.Is(err, ports.ErrInvalidArgument) {
			t.Fatalf("InitTable(%d characters) = %v, want ErrInvalidArgument", n, err)
		}
		for _, tn := range TableNames(table) {
			if len(tn) > 255 {
				continue // DynamoDB would refuse even to describe it
			}
			_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(tn)})
			var missing *types.ResourceNotFoundException
			if !errors.As(err, &missing) {
				t.Errorf("after the refused InitTable(%d characters), table %s...: DescribeTable = %v, want not found", n, tn[:30], err)
			}
		}
	}

	table := name(MaxTableName)
	cleanup(table)
	if err := InitTable(t.Context(), client, table); err != nil {
		t.Fatalf("InitTable(%d characters): %v", MaxTableName, err)
	}
	for _, tn := range TableNames(table) {
		if _, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(tn)}); err != nil {
			t.Errorf("table of %d characters: %v", len(tn), err)
		}
	}
}
