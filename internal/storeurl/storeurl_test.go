package storeurl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		raw  string
		want Spec
	}{
		{"bolt:///var/lib/sentinel/s.db", Spec{Kind: Bolt, Path: "/var/lib/sentinel/s.db"}},
		{"bolt:///tmp/a/../s.db?lock_timeout=500ms", Spec{Kind: Bolt, Path: "/tmp/s.db", LockTimeout: 500 * time.Millisecond}},
		{"redis://127.0.0.1:6379", Spec{Kind: Redis, Addr: "127.0.0.1:6379", Prefix: "sentinel"}},
		{"rediss://u:p%40ss@cache.internal:6380/3?prefix=team-a", Spec{Kind: Redis, Addr: "cache.internal:6380", Username: "u", Password: "p@ss", DB: 3, TLS: true, Prefix: "team-a"}},
		{"redis://10.0.0.5:7000?cluster=true&prefix=p", Spec{Kind: Redis, Addr: "10.0.0.5:7000", Cluster: true, Prefix: "p"}},
		{"dynamodb://sentinel-sessions?region=eu-west-1", Spec{Kind: DynamoDB, Table: "sentinel-sessions", Region: "eu-west-1"}},
		{"dynamodb://tbl?endpoint=http://127.0.0.1:8000&profile=ops", Spec{Kind: DynamoDB, Table: "tbl", Endpoint: "http://127.0.0.1:8000", Profile: "ops"}},
		{"dynamodb://" + strings.Repeat("a", 244), Spec{Kind: DynamoDB, Table: strings.Repeat("a", 244)}},
		{"rediss://sentinel:pw@10.0.0.5:6380?ca_file=/etc/sentinel/redis-ca.pem", Spec{Kind: Redis, Addr: "10.0.0.5:6380", Username: "sentinel", Password: "pw", TLS: true, Prefix: "sentinel", CAFile: "/etc/sentinel/redis-ca.pem"}},
		{"rediss://h:6380?cluster=true&cert_file=c.pem&key_file=k.pem", Spec{Kind: Redis, Addr: "h:6380", TLS: true, Cluster: true, Prefix: "sentinel", CertFile: "c.pem", KeyFile: "k.pem"}},
		{"dynamodb://tbl?endpoint=https://dynamodb.corp.example&ca_bundle=/etc/corp/ca.pem", Spec{Kind: DynamoDB, Table: "tbl", Endpoint: "https://dynamodb.corp.example", CABundle: "/etc/corp/ca.pem"}},
	}
	for _, tc := range tests {
		got, err := Parse(tc.raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ raw, says string }{
		{"", "empty"},
		{"/tmp/s.db", "no scheme"},
		{"postgres://x", `unknown scheme "postgres"`},
		{"bolt://", "needs a file path"},
		{"bolt://relative.db", "not absolute"},
		{"bolt:///tmp/s.db?lock_timeout=forever", "lock_timeout"},
		{"bolt:///tmp/s.db?timeout=1s", "unknown parameter(s) timeout"},
		{"redis://localhost", "host:port"},
		{"redis://localhost:0", "not 1-65535"},
		{"redis://localhost:6379/99", "0-15"},
		{"redis://localhost:6379?prefix=a%20b", "prefix"},
		{"redis://localhost:6379?prefix=a&prefix=b", "2 times"},
		{"redis://h:1?cluster=yes", "true or false"},
		{"redis://h:1/2?cluster=true", "only database 0"},
		{"dynamodb://ab", "table name"},
		{"dynamodb://t@ble", "no user info"},
		{"dynamodb://t!ble", "table name"},
		// Its -breakglass table would pass DynamoDB's 255 characters.
		{"dynamodb://" + strings.Repeat("a", 247), "at most 244"},
		{"dynamodb://" + strings.Repeat("a", 255), "-breakglass"},
		{"dynamodb://user:pw@table", "no user info"},
		{"dynamodb://table/x", "has a path"},
		{"dynamodb://table?endpoint=localhost:8000", "http:// or https://"},
		{"dynamodb://table?regoin=x", "unknown parameter(s) regoin"},
		{"redis://h:1?ca_file=/ca.pem", "ca_file needs TLS: write rediss://"},
		{"redis://h:1?cert_file=/c.pem&key_file=/k.pem", "needs TLS"},
		{"rediss://h:1?ca_file=", "ca_file is empty"},
		{"rediss://h:1?cert_file=/c.pem", "cert_file and key_file go together"},
		{"rediss://h:1?key_file=/k.pem", "cert_file and key_file go together"},
		{"rediss://h:1?cafile=/ca.pem", "unknown parameter(s) cafile"},
		{"dynamodb://table?ca_bundle=", "ca_bundle is empty"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.raw)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error saying %q", tc.raw, tc.says)
			continue
		}
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "accepted forms") {
			t.Errorf("Parse(%q) = %v; want ErrBadURL saying %q and listing the forms", tc.raw, err, tc.says)
		}
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	for _, raw := range []string{"redis://u:hunter2@h:1/99", "redis://:hunter2@h:6379", "foo://u:hunter2@x"} {
		_, err := Parse(raw)
		if err == nil {
			if s, _ := Parse(raw); strings.Contains(s.Redacted(), "hunter2") {
				t.Errorf("Redacted(%q) leaks the password: %s", raw, s.Redacted())
			}
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error for %q leaks the password: %v", raw, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"bolt:///tmp/x.db", "redis://a:b@h:1/2?prefix=p", "dynamodb://tab?region=r&endpoint=http://h:1", "rediss://h:1", "bolt://x", "::", "redis://[::1]:6379"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		spec, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("error does not wrap ErrBadURL: %v", err)
			}
			return
		}
		switch spec.Kind {
		case Bolt:
			if spec.Path == "" {
				t.Fatal("bolt spec without a path")
			}
		case Redis:
			if spec.Addr == "" || spec.Prefix == "" {
				t.Fatal("redis spec without an address or prefix")
			}
		case DynamoDB:
			if spec.Table == "" {
				t.Fatal("dynamodb spec without a table")
			}
		default:
			t.Fatalf("unknown kind %q", spec.Kind)
		}
		if spec.Password != "" && strings.Contains(spec.Redacted(), spec.Password) && len(spec.Password) > 5 {
			t.Fatalf("Redacted leaks the password")
		}
	})
}
