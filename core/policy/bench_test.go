package policy

import (
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// A policy of realistic size: the matching rule is the last of ten, behind
// time windows and ARN globs, so every rule is looked at.
const benchPolicy = `version: "1"
rules:
  - {name: r1, effect: deny, conditions: {profiles: [p1], users: ["arn:aws:sts::111122223333:assumed-role/Admin/*"]}}
  - {name: r2, effect: deny, conditions: {profiles: [p2], time: {days: [saturday, sunday], timezone: America/New_York}}}
  - {name: r3, effect: require_approval, conditions: {profiles: [p3]}}
  - {name: r4, effect: require_server, conditions: {profiles: [p4], mode: [cli]}}
  - {name: r5, effect: deny, conditions: {users: [mallory, eve]}}
  - {name: r6, effect: allow, conditions: {profiles: [p6], time: {hours: {start: "22:00", end: "06:00"}}}}
  - {name: r7, effect: deny, conditions: {profiles: [p7, p8, p9]}}
  - {name: r8, effect: require_server_session, conditions: {profiles: [p10]}}
  - {name: r9, effect: deny, conditions: {profiles: [prod], mode: [cli, credential_process]}}
  - {name: r10, effect: allow, max_server_duration: 30m, conditions: {profiles: [prod], users: ["arn:aws:iam::111122223333:user/*"], time: {days: [monday, tuesday, wednesday, thursday, friday], hours: {start: "08:00", end: "20:00"}, timezone: Europe/Berlin}}}
`

func BenchmarkEvaluate(b *testing.B) {
	p, err := Parse([]byte(benchPolicy))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{
		Identity: ports.Identity{ARN: "arn:aws:iam::111122223333:user/alice", Name: "alice"},
		Profile:  "prod", Mode: ModeServer, SessionTracking: true,
		Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	}
	if d := p.Evaluate(req); d.Rule != "r10" || d.Effect != EffectAllow {
		b.Fatalf("decision = %+v, want allow by r10", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(req)
	}
}
