package awsdeny

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/ports"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

const (
	sessionID = "0f8e3c2a9b7d4e5f8a1b2c3d4e5f6a7b"
	roleARN   = "arn:aws:iam::123456789012:role/team/Deployer"
	role2ARN  = "arn:aws:iam::123456789012:role/Reader"
	si        = "sentinel.alice." + sessionID
)

func roleSession() ports.Session {
	return ports.Session{ID: sessionID, User: "alice", IdentitySource: "sts", SourceIdentity: si,
		RoleARNs:       []string{roleARN, role2ARN},
		AssumedRoleIDs: []string{"AROAAAAAAAAAAAAAAAAAA:" + si, "AROABBBBBBBBBBBBBBBBB:" + si}}
}

func TestNameRoundTrip(t *testing.T) {
	until := now.Add(RoleCredentialMax)
	name := Name(sessionID, until)
	if name != "SentinelRevoke-"+sessionID+"-"+fmt.Sprint(until.Unix()) || len(name) > 128 {
		t.Fatalf("Name = %q", name)
	}
	id, got, ok := ParseName(name)
	if !ok || id != sessionID || !got.Equal(until) {
		t.Fatalf("ParseName(%q) = %q, %s, %v", name, id, got, ok)
	}
	for _, bad := range []string{"", "Other-abc-100", "SentinelRevoke-abc", "SentinelRevoke--100", "SentinelRevoke-abc-", "SentinelRevoke-abc-x1", "SentinelRevoke-abc--5", "SentinelRevoke-abc-+5", "SentinelRevoke-abc-0"} {
		if _, _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

func TestExpired(t *testing.T) {
	names := []string{Name("a", now.Add(-time.Second)), Name("b", now), Name("c", now.Add(time.Second)), "Filler", "SentinelRevoke-x-nope"}
	if got := Expired(names, now); !slices.Equal(got, names[:2]) {
		t.Fatalf("Expired = %v, want the two whose time has come", got)
	}
}

type stmt struct {
	Effect, Action, Resource string
	Condition                map[string]map[string]json.RawMessage
}

func parse(t *testing.T, doc string) stmt {
	t.Helper()
	var d struct {
		Version   string
		Statement []stmt
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || d.Version != "2012-10-17" || len(d.Statement) != 1 {
		t.Fatalf("document %s: %v", doc, err)
	}
	return d.Statement[0]
}

func TestSessionDocument(t *testing.T) {
	s := roleSession()
	doc, err := SessionDocument(s.SourceIdentity, s.AssumedRoleIDs)
	if err != nil {
		t.Fatal(err)
	}
	st := parse(t, doc)
	if st.Effect != "Deny" || st.Action != "*" || st.Resource != "*" {
		t.Fatalf("statement %+v: want Deny * on *", st)
	}
	if got := string(st.Condition["StringEquals"]["aws:SourceIdentity"]); got != `"`+si+`"` {
		t.Errorf("aws:SourceIdentity = %s", got)
	}
	var ids []string
	_ = json.Unmarshal(st.Condition["StringLike"]["aws:userid"], &ids)
	if !slices.Equal(ids, []string{"AROAAAAAAAAAAAAAAAAAA:" + si + "*", "AROABBBBBBBBBBBBBBBBB:" + si + "*"}) {
		t.Errorf("aws:userid = %v", ids)
	}
	if len(st.Condition) != 2 {
		t.Errorf("conditions %v: want exactly StringEquals and StringLike", st.Condition)
	}
	// Never a deny without a condition: it would cut every session of the role.
	if _, err := SessionDocument("", nil); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("no handles: %v, want ErrInvalidArgument", err)
	}
	if _, err := SessionDocument("", []string{"AROAX:*", "nocolon", ":x"}); err == nil {
		t.Error("only unusable AssumedRoleIds: accepted; a wildcard id would widen the deny")
	}
}

func TestCutoffDocument(t *testing.T) {
	st := parse(t, CutoffDocument(now.In(time.FixedZone("x", 3600))))
	if got := string(st.Condition["DateLessThan"]["aws:TokenIssueTime"]); got != `"2026-12-06T12:00:00Z"` {
		t.Errorf("aws:TokenIssueTime = %s, want now in UTC", got)
	}
	st = parse(t, CutoffDocument(now.Add(100*time.Millisecond)))
	if got := string(st.Condition["DateLessThan"]["aws:TokenIssueTime"]); got != `"2026-12-06T12:00:01Z"` {
		t.Errorf("aws:TokenIssueTime = %s, want now rounded up to the second", got)
	}
}

// userSession is a GetSessionToken session: no role, denied at its user.
func userSession() ports.Session {
	return ports.Session{ID: sessionID, User: "alice", IdentitySource: "sts"}
}

func TestPlan(t *testing.T) {
	ws, err := Plan(roleSession(), Options{}, now)
	if err != nil || len(ws) != 2 {
		t.Fatalf("Plan = %v, %v", ws, err)
	}
	until := now.Add(12*time.Hour + ClockMargin)
	for i, want := range []string{"Deployer", "Reader"} {
		w := ws[i]
		if w.Role != want || w.Scope != ports.DenySession || !w.Until.Equal(until) || w.Policy != Name(sessionID, until) {
			t.Errorf("write %d = %+v, want role %s until %s", i, w, want, until)
		}
	}
	gst := ports.Session{ID: sessionID, User: "alice", IdentitySource: "sts"}
	if _, err := Plan(gst, Options{}, now); !errors.Is(err, ErrNoRole) {
		t.Errorf("GetSessionToken session without --all-user-sessions: %v, want ErrNoRole", err)
	}
	ws, err = Plan(gst, Options{AllUserSessions: true}, now)
	if err != nil || len(ws) != 1 || ws[0].User != "alice" || ws[0].Scope != ports.DenyAllUserSessions ||
		!ws[0].Until.Equal(now.Add(36*time.Hour+ClockMargin)) {
		t.Fatalf("user plan = %+v, %v", ws, err)
	}
	gst.UserARN = "arn:aws:iam::123456789012:user/ops/bob"
	if ws, _ := Plan(gst, Options{AllUserSessions: true}, now); ws[0].User != "bob" {
		t.Errorf("user from UserARN = %q, want bob", ws[0].User)
	}
	osUser := ports.Session{ID: sessionID, User: "alice", IdentitySource: "os"}
	if _, err := Plan(osUser, Options{AllUserSessions: true}, now); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("os identity: %v, want ErrInvalidArgument (no IAM user known)", err)
	}
}

// memPolicies is an in-memory ports.InlinePolicies with a per-role quota
// counted in documents.
type memPolicies struct {
	roles, users map[string]map[string]string
	full         map[string]bool // roles whose next session-sized put fails
	room         map[string]int  // roles and users that hold at most this many policies
	listFails    error           // ListRolePolicies and ListUserPolicies fail with it, when set
	fail         error
}

func newMem(roles ...string) *memPolicies {
	m := &memPolicies{roles: map[string]map[string]string{}, users: map[string]map[string]string{"alice": {}}, full: map[string]bool{}, room: map[string]int{}}
	for _, r := range roles {
		m.roles[r] = map[string]string{}
	}
	return m
}

func (m *memPolicies) PutRolePolicy(_ context.Context, role, name, doc string) error {
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.roles[role]; !ok {
		return ports.ErrNotFound
	}
	if m.full[role] && strings.Contains(doc, "SourceIdentity") {
		return fmt.Errorf("role %s: %w", role, ports.ErrPolicyQuota)
	}
	if n, ok := m.room[role]; ok && len(m.roles[role]) >= n {
		return fmt.Errorf("role %s: %w", role, ports.ErrPolicyQuota)
	}
	m.roles[role][name] = doc
	return nil
}
func (m *memPolicies) DeleteRolePolicy(_ context.Context, role, name string) error {
	if _, ok := m.roles[role][name]; !ok {
		return ports.ErrNotFound
	}
	delete(m.roles[role], name)
	return nil
}
func (m *memPolicies) ListRolePolicies(_ context.Context, role string) ([]string, error) {
	if m.listFails != nil {
		return nil, m.listFails
	}
	if _, ok := m.roles[role]; !ok {
		return nil, ports.ErrNotFound
	}
	var out []string
	for n := range m.roles[role] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
func (m *memPolicies) PutUserPolicy(_ context.Context, user, name, doc string) error {
	if n, ok := m.room["user:"+user]; ok && len(m.users[user]) >= n {
		return fmt.Errorf("user %s: %w", user, ports.ErrPolicyQuota)
	}
	m.users[user][name] = doc
	return nil
}
func (m *memPolicies) DeleteUserPolicy(_ context.Context, user, name string) error {
	delete(m.users[user], name)
	return nil
}
func (m *memPolicies) ListUserPolicies(_ context.Context, user string) ([]string, error) {
	if m.listFails != nil {
		return nil, m.listFails
	}
	var out []string
	for n := range m.users[user] {
		out = append(out, n)
	}
	return out, nil
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	m := newMem("Deployer", "Reader")
	ds := Apply(ctx, m, roleSession(), Options{}, now)
	if len(ds) != 2 || Failed(ds) {
		t.Fatalf("Apply = %+v", ds)
	}
	if len(m.roles["Deployer"]) != 1 || len(m.roles["Reader"]) != 1 {
		t.Fatalf("policies written: %v", m.roles)
	}

	// A full role: reported with what to do, and the other role still denied.
	m = newMem("Deployer", "Reader")
	m.full["Deployer"] = true
	ds = Apply(ctx, m, roleSession(), Options{}, now)
	if !Failed(ds) || ds[0].Denied || !strings.Contains(ds[0].Next, "--fallback-all-sessions") || !ds[1].Denied {
		t.Fatalf("full role without fallback: %+v", ds)
	}
	if len(m.roles["Deployer"]) != 0 {
		t.Errorf("something was written on the full role: %v", m.roles["Deployer"])
	}
	ds = Apply(ctx, m, roleSession(), Options{FallbackAllSessions: true}, now)
	if Failed(ds) || ds[0].Scope != ports.DenyAllRoleSessions || ds[1].Scope != ports.DenySession {
		t.Fatalf("full role with fallback: %+v", ds)
	}
	for _, doc := range m.roles["Deployer"] {
		if !strings.Contains(doc, "aws:TokenIssueTime") {
			t.Errorf("fallback wrote %s, want the TokenIssueTime cut-off", doc)
		}
	}
	if !strings.Contains(Describe(ds[0]), "EVERY session of the role") {
		t.Errorf("the fallback's line does not say it cuts every session: %s", Describe(ds[0]))
	}

	m = newMem("Deployer", "Reader")
	m.fail = fmt.Errorf("iam: %w", ports.ErrForbidden)
	ds = Apply(ctx, m, roleSession(), Options{}, now)
	if !Failed(ds) || len(ds) != 2 || !strings.Contains(ds[0].Next, "iam:PutRolePolicy") {
		t.Fatalf("forbidden: %+v", ds)
	}

	gst := ports.Session{ID: sessionID, User: "alice", IdentitySource: "sts"}
	ds = Apply(ctx, m, gst, Options{}, now)
	if !Failed(ds) || !strings.Contains(ds[0].Error, "GetSessionToken") || !strings.Contains(ds[0].Next, "--all-user-sessions") {
		t.Fatalf("GetSessionToken session: %+v", ds)
	}
	ds = Apply(ctx, m, gst, Options{AllUserSessions: true}, now)
	if Failed(ds) || len(m.users["alice"]) != 1 || !strings.Contains(Describe(ds[0]), "EVERY temporary credential") {
		t.Fatalf("user cut-off: %+v, %v", ds, m.users)
	}
}

// TestApplyFreesRoomTakenByExpiredDenies: a role full of denies whose time
// has passed (the timed sweep never reached it) gets the new deny after
// they are deleted; a role full of live denies is reported full, and none
// of them is touched.
func TestApplyFreesRoomTakenByExpiredDenies(t *testing.T) {
	ctx := context.Background()
	m := newMem("Deployer", "Reader")
	m.room["Deployer"], m.room["Reader"] = 3, 3
	for i := range 3 {
		m.roles["Deployer"][Name(fmt.Sprint("old", i), now.Add(-time.Duration(i+1)*time.Minute))] = "{}"
		m.roles["Reader"][Name(fmt.Sprint("live", i), now.Add(time.Duration(i+1)*time.Hour))] = "{}"
	}
	ds := Apply(ctx, m, roleSession(), Options{}, now)
	if len(ds) != 2 || !ds[0].Denied || ds[1].Denied {
		t.Fatalf("Apply = %+v; want Deployer denied (expired denies freed), Reader full", ds)
	}
	if len(m.roles["Deployer"]) != 1 {
		t.Fatalf("Deployer holds %v; want only the new deny", m.roles["Deployer"])
	}
	if _, ok := m.roles["Deployer"][ds[0].Policy]; !ok {
		t.Fatalf("the new deny %s is not on the role: %v", ds[0].Policy, m.roles["Deployer"])
	}
	if len(m.roles["Reader"]) != 3 || !strings.Contains(ds[1].Next, "--fallback-all-sessions") {
		t.Fatalf("Reader: %v, next %q; want its 3 live denies kept and the fallback named", m.roles["Reader"], ds[1].Next)
	}

	// A user's quota (AllUserSessions): the same, and the hint names no
	// role-only fallback.
	m = newMem()
	m.room["user:alice"] = 1
	m.users["alice"][Name("old", now.Add(-time.Minute))] = "{}"
	ds = Apply(ctx, m, userSession(), Options{AllUserSessions: true}, now)
	if len(ds) != 1 || !ds[0].Denied || len(m.users["alice"]) != 1 {
		t.Fatalf("user full of expired denies: %+v, left %v", ds, m.users["alice"])
	}
	m.room["user:alice"] = 1 // now full of a live deny
	ds = Apply(ctx, m, userSession(), Options{AllUserSessions: true}, now.Add(time.Second))
	if len(ds) != 1 || ds[0].Denied || strings.Contains(ds[0].Next, "--fallback-all-sessions") {
		t.Fatalf("user full of a live deny: %+v", ds)
	}

	// Clearing fails (no permission to list): the error says so.
	m = newMem("Deployer", "Reader")
	m.room["Deployer"] = 1
	m.roles["Deployer"][Name("old", now.Add(-time.Minute))] = "{}"
	m.listFails = fmt.Errorf("iam: %w", ports.ErrForbidden)
	ds = Apply(ctx, m, roleSession(), Options{}, now)
	if ds[0].Denied || !strings.Contains(ds[0].Error, "clearing its expired Sentinel denies failed") {
		t.Fatalf("a role whose expired denies could not be cleared: %+v", ds[0])
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	m := newMem("Deployer", "Reader")
	old, fresh := Name("a", now.Add(-time.Minute)), Name("b", now.Add(time.Hour))
	m.roles["Deployer"] = map[string]string{old: "{}", fresh: "{}", "Filler": "{}"}
	m.users["alice"][Name("c", now.Add(-time.Hour))] = "{}"
	r := Sweep(ctx, m, []string{"Deployer", "Reader", "Gone"}, []string{"alice"}, now)
	if len(r.Failed) != 0 || r.Kept != 1 || len(r.Deleted) != 2 {
		t.Fatalf("Sweep = %+v", r)
	}
	if _, ok := m.roles["Deployer"]["Filler"]; !ok || len(m.roles["Deployer"]) != 2 {
		t.Fatalf("left on the role: %v, want the filler and the fresh deny", m.roles["Deployer"])
	}
	// A second sweep, or one racing another, finds nothing to do and no error.
	if r := Sweep(ctx, m, []string{"Deployer"}, nil, now); len(r.Failed) != 0 || len(r.Deleted) != 0 {
		t.Fatalf("second sweep = %+v", r)
	}
}

// A delete that another sweep won (NoSuchEntity) counts as done.
type racing struct{ *memPolicies }

func (r racing) DeleteRolePolicy(ctx context.Context, role, name string) error {
	_ = r.memPolicies.DeleteRolePolicy(ctx, role, name)
	return fmt.Errorf("iam: %w", ports.ErrNotFound)
}

func TestSweepRace(t *testing.T) {
	m := newMem("Deployer")
	m.roles["Deployer"][Name("a", now.Add(-time.Minute))] = "{}"
	r := Sweep(context.Background(), racing{m}, []string{"Deployer"}, nil, now)
	if len(r.Failed) != 0 || len(r.Deleted) != 1 {
		t.Fatalf("Sweep = %+v, want the lost race counted as deleted", r)
	}
}

func TestRolesOf(t *testing.T) {
	got := RolesOf([]ports.Session{roleSession(), {RoleARNs: []string{roleARN, "not-an-arn"}}})
	if !slices.Equal(got, []string{"Deployer", "Reader"}) {
		t.Fatalf("RolesOf = %v", got)
	}
}

// The broker's timer sweep finds the roles from the store's revoked sessions.
func TestSweepStore(t *testing.T) {
	ctx := context.Background()
	store := memory.New(fixedClock{now})
	old := roleSession()
	old.ID, old.Status, old.CreatedAt = "00000000000000000000000000000001", ports.SessionRevoked, now.Add(-8*24*time.Hour)
	old.RoleARNs = []string{"arn:aws:iam::123456789012:role/Ancient"}
	recent := roleSession()
	recent.Status, recent.CreatedAt = ports.SessionRevoked, now.Add(-13*time.Hour)
	for _, s := range []ports.Session{old, recent} {
		if _, err := store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	m := newMem("Deployer", "Reader", "Ancient", "Extra")
	for _, r := range []string{"Deployer", "Ancient", "Extra"} {
		m.roles[r][Name("x", now.Add(-time.Minute))] = "{}"
	}
	r := SweepStore(ctx, store, m, []string{"Extra", "Deployer"}, nil, 0, now)
	if len(r.Failed) != 0 || len(r.Deleted) != 2 || len(m.roles["Ancient"]) != 1 {
		t.Fatalf("SweepStore = %+v; want Deployer (from the store) and Extra swept, Ancient (past the lookback) left", r)
	}

	// A revoked session that assumed no role: its user's deny of every
	// session (AllUserSessions) is swept once expired, with no user given.
	noRole := ports.Session{ID: "00000000000000000000000000000002", User: "alice", UserARN: "arn:aws:iam::123456789012:user/alice",
		Status: ports.SessionRevoked, CreatedAt: now.Add(-time.Hour)}
	if _, err := store.CreateSession(ctx, noRole); err != nil {
		t.Fatal(err)
	}
	m.users["alice"][Name(noRole.ID, now.Add(-time.Minute))] = "{}"
	m.users["alice"][Name("y", now.Add(time.Hour))] = "{}"
	r = SweepStore(ctx, store, m, nil, nil, 0, now)
	if len(r.Failed) != 0 || len(m.users["alice"]) != 1 || !slices.Contains(r.Deleted, "user/alice/"+Name(noRole.ID, now.Add(-time.Minute))) {
		t.Fatalf("SweepStore = %+v, alice keeps %v; want her expired deny swept and the live one kept", r, m.users["alice"])
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
