package ports_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestLockMatches(t *testing.T) {
	const arn = "arn:aws:iam::111122223333:user/alice"
	osAlice := ports.Identity{Name: "alice", Source: "os"}
	iamAlice := ports.Identity{Name: "alice", ARN: arn, Source: "sts"}
	roleAlice := ports.Identity{Name: "alice", ARN: "arn:aws:sts::111122223333:assumed-role/dev/alice", Source: "sts"}
	bob := ports.Identity{Name: "bob", ARN: "arn:aws:iam::111122223333:user/bob", Source: "sts"}
	for _, tc := range []struct {
		name    string
		lock    ports.Lock
		who     ports.Identity
		profile string
		want    bool
	}{
		// A name covers every identity of that name: switching to the OS
		// identity, or to a role session named alice, does not dodge it.
		{"name, OS user", ports.Lock{Kind: ports.LockUser, Target: "alice"}, osAlice, "prod", true},
		{"name, IAM user", ports.Lock{Kind: ports.LockUser, Target: "alice"}, iamAlice, "prod", true},
		{"name, role session", ports.Lock{Kind: ports.LockUser, Target: "alice"}, roleAlice, "prod", true},
		{"name, another user", ports.Lock{Kind: ports.LockUser, Target: "alice"}, bob, "prod", false},
		// An ARN covers exactly that principal.
		{"ARN, that principal", ports.Lock{Kind: ports.LockUser, Target: arn}, iamAlice, "prod", true},
		{"ARN, a role session of the same name", ports.Lock{Kind: ports.LockUser, Target: arn}, roleAlice, "prod", false},
		{"ARN, the OS user of the same name", ports.Lock{Kind: ports.LockUser, Target: arn}, osAlice, "prod", false},
		{"profile, that profile", ports.Lock{Kind: ports.LockProfile, Target: "prod"}, bob, "prod", true},
		{"profile, another profile", ports.Lock{Kind: ports.LockProfile, Target: "prod"}, bob, "dev", false},
		{"profile, a user of that name", ports.Lock{Kind: ports.LockProfile, Target: "alice"}, osAlice, "prod", false},
		{"empty identity", ports.Lock{Kind: ports.LockUser, Target: "alice"}, ports.Identity{}, "prod", false},
		{"unknown kind", ports.Lock{Kind: "group", Target: "alice"}, osAlice, "alice", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.lock.Matches(tc.who, tc.profile); got != tc.want {
				t.Errorf("Matches(%+v, %q) = %v, want %v", tc.who, tc.profile, got, tc.want)
			}
		})
	}
}

func TestLockInForceAndEnd(t *testing.T) {
	now := time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)
	l := ports.Lock{ID: "l1", Kind: ports.LockUser, Target: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if !l.InForce(now) || !l.InForce(now.Add(time.Hour-time.Nanosecond)) || l.InForce(now.Add(time.Hour)) {
		t.Error("a lock is in force from creation until just before ExpiresAt")
	}
	forever := l
	forever.ExpiresAt = time.Time{}
	if !forever.InForce(now.Add(100 * 365 * 24 * time.Hour)) {
		t.Error("a lock without ExpiresAt never runs out")
	}
	ended, err := l.End("bob", now.Add(time.Minute))
	if err != nil || ended.EndedBy != "bob" || !ended.EndedAt.Equal(now.Add(time.Minute)) || ended.InForce(now.Add(time.Minute)) {
		t.Fatalf("End = %+v, %v", ended, err)
	}
	if _, err := ended.End("carol", now.Add(2*time.Minute)); !errors.Is(err, ports.ErrInvalidTransition) {
		t.Errorf("second End: %v, want ErrInvalidTransition", err)
	}
	if _, err := l.End("carol", now.Add(time.Hour)); !errors.Is(err, ports.ErrInvalidTransition) {
		t.Errorf("End of a lock that ran out: %v, want ErrInvalidTransition", err)
	}
}
