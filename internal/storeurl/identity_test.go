package storeurl

import "testing"

func TestIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"bolt:///var/lib/sentinel/../sentinel/s.db?lock_timeout=5s", "bolt:///var/lib/sentinel/s.db"},
		{"redis://user:secret@cache.internal:6379", "redis://cache.internal:6379/0?prefix=sentinel"},
		{"rediss://cache.internal:6380/3?prefix=team.a", "redis://cache.internal:6380/3?prefix=team.a"},
		{"redis://cache.internal:6379?cluster=true&prefix=p", "redis://cache.internal:6379/0?prefix=p"},
		{"rediss://u:pw@cache.internal:6380?prefix=p&ca_file=/ca.pem&cert_file=/c.pem&key_file=/k.pem", "redis://cache.internal:6380/0?prefix=p"},
		{"dynamodb://sentinel-sessions", "dynamodb://sentinel-sessions"},
		{"dynamodb://sentinel-sessions?region=eu-west-1&ca_bundle=/etc/corp/ca.pem", "dynamodb://sentinel-sessions?region=eu-west-1"},
		{"dynamodb://sentinel-sessions?profile=ops&region=eu-west-1", "dynamodb://sentinel-sessions?region=eu-west-1"},
		{"dynamodb://t-1?region=us-east-1&endpoint=http://127.0.0.1:8000", "dynamodb://t-1?region=us-east-1&endpoint=http://127.0.0.1:8000"},
	}
	for _, tt := range tests {
		got, err := IdentityOf(tt.raw)
		if err != nil || got != tt.want {
			t.Errorf("IdentityOf(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
	if _, err := IdentityOf("mysql://x"); err == nil {
		t.Error("IdentityOf(mysql://x) = nil error, want the parse error")
	}
}
