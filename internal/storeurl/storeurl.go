// Package storeurl parses the --store URL. It is the one place that knows the
// accepted forms; the CLI opens the adapter the Spec names.
package storeurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/dynamo"
)

// Kind names a backend.
type Kind string

// The backends.
const (
	Bolt     Kind = "bolt"
	Redis    Kind = "redis"
	DynamoDB Kind = "dynamodb"
)

// Forms is shown with every parse error.
const Forms = `accepted forms:
  bolt:///absolute/path/sentinel.db[?lock_timeout=2s]
  redis://[user:password@]host:port[/db][?prefix=sentinel&cluster=true]
  rediss://[user:password@]host:port[/db][?prefix=...&cluster=...&ca_file=PEM&cert_file=PEM&key_file=PEM]   (TLS)
  dynamodb://TABLE[?region=REGION&endpoint=URL&profile=NAME&ca_bundle=PEM]`

// ErrBadURL wraps every parse error.
var ErrBadURL = errors.New("bad store URL")

// Spec is a parsed store URL.
type Spec struct {
	Kind Kind

	// Bolt.
	Path        string
	LockTimeout time.Duration

	// Redis.
	Addr     string
	Username string
	Password string
	DB       int
	TLS      bool
	Cluster  bool
	Prefix   string
	// TLS files of a rediss:// URL (ca_file, cert_file, key_file): the CA
	// that signed the server's certificate, when the system roots do not
	// hold it, and a client certificate for servers that ask for one.
	CAFile   string
	CertFile string
	KeyFile  string

	// DynamoDB.
	Table    string
	Region   string
	Endpoint string
	Profile  string
	// CABundle (ca_bundle) is a PEM file of the CAs to trust for the
	// endpoint instead of the system roots, like AWS_CA_BUNDLE.
	CABundle string
}

// DefaultRedisPrefix namespaces keys when ?prefix= is not given.
const DefaultRedisPrefix = "sentinel"

var (
	redisPrefix = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
)

// Parse parses a store URL. Errors wrap ErrBadURL, never echo a password, and list the accepted forms.
func Parse(raw string) (Spec, error) {
	s, err := parse(strings.TrimSpace(raw))
	if err != nil {
		return Spec{}, fmt.Errorf("%w %q: %w\n%s", ErrBadURL, redact(raw), err, Forms)
	}
	return s, nil
}

func parse(raw string) (Spec, error) {
	if raw == "" {
		return Spec{}, errors.New("it is empty")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Spec{}, errors.New("it has no scheme")
	}
	switch strings.ToLower(scheme) {
	case "bolt":
		return parseBolt(rest)
	case "redis", "rediss":
		return parseRedis(raw, strings.ToLower(scheme) == "rediss")
	case "dynamodb":
		return parseDynamo(raw)
	default:
		return Spec{}, fmt.Errorf("unknown scheme %q", scheme)
	}
}

func parseBolt(rest string) (Spec, error) {
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return Spec{}, errors.New("bolt needs a file path")
	}
	if !filepath.IsAbs(path) {
		return Spec{}, fmt.Errorf("bolt path %q is not absolute (write bolt:///full/path)", path)
	}
	if strings.ContainsRune(path, 0) {
		return Spec{}, errors.New("bolt path contains a NUL byte")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Spec{}, fmt.Errorf("bad query: %w", err)
	}
	spec := Spec{Kind: Bolt, Path: filepath.Clean(path)}
	if err := onlyKeys(q, "lock_timeout"); err != nil {
		return Spec{}, err
	}
	if v := q.Get("lock_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return Spec{}, fmt.Errorf("lock_timeout %q must be a duration between 1ms and 5m", v)
		}
		spec.LockTimeout = d
	}
	return spec, nil
}

func parseRedis(raw string, tls bool) (Spec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Spec{}, errors.New("it does not parse as a URL")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return Spec{}, errors.New("redis needs host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return Spec{}, fmt.Errorf("redis port %q is not 1-65535", port)
	}
	spec := Spec{Kind: Redis, Addr: u.Host, TLS: tls, Prefix: DefaultRedisPrefix}
	if u.User != nil {
		spec.Username = u.User.Username()
		spec.Password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || n > 15 {
			return Spec{}, fmt.Errorf("redis database %q must be a number 0-15", db)
		}
		spec.DB = n
	}
	q := u.Query()
	if err := onlyKeys(q, "prefix", "cluster", "ca_file", "cert_file", "key_file"); err != nil {
		return Spec{}, err
	}
	if err := parseRedisTLS(q, &spec); err != nil {
		return Spec{}, err
	}
	if v, ok := q["cluster"]; ok {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return Spec{}, fmt.Errorf("redis cluster=%q must be true or false", v[0])
		}
		if b && spec.DB != 0 {
			return Spec{}, fmt.Errorf("redis cluster has only database 0, not %d", spec.DB)
		}
		spec.Cluster = b
	}
	if v, ok := q["prefix"]; ok {
		if !redisPrefix.MatchString(v[0]) {
			return Spec{}, fmt.Errorf("redis prefix %q must be 1-64 characters of A-Z a-z 0-9 _ . : -", v[0])
		}
		spec.Prefix = v[0]
	}
	return spec, nil
}

func parseDynamo(raw string) (Spec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Spec{}, errors.New("it does not parse as a URL")
	}
	if u.User != nil {
		return Spec{}, errors.New("dynamodb URLs take no user info; credentials come from the AWS chain or ?profile=")
	}
	if u.Path != "" && u.Path != "/" {
		return Spec{}, fmt.Errorf("dynamodb URL has a path %q; the table name goes where the host would", u.Path)
	}
	// The adapter's rule, which counts the tables named after this one.
	if err := dynamo.ValidateTableName(u.Host); err != nil {
		return Spec{}, err
	}
	q := u.Query()
	if err := onlyKeys(q, "region", "endpoint", "profile", "ca_bundle"); err != nil {
		return Spec{}, err
	}
	spec := Spec{Kind: DynamoDB, Table: u.Host, Region: q.Get("region"), Endpoint: q.Get("endpoint"), Profile: q.Get("profile")}
	if v, ok := q["ca_bundle"]; ok {
		if v[0] == "" {
			return Spec{}, errors.New("dynamodb ca_bundle is empty; give the path of a PEM file")
		}
		spec.CABundle = v[0]
	}
	if spec.Endpoint != "" {
		e, err := url.Parse(spec.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Spec{}, fmt.Errorf("dynamodb endpoint %q must be an http:// or https:// URL", spec.Endpoint)
		}
	}
	return spec, nil
}

func onlyKeys(q url.Values, allowed ...string) error {
	var unknown []string
	for k, v := range q {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			unknown = append(unknown, k)
		} else if len(v) > 1 {
			return fmt.Errorf("parameter %q is given %d times", k, len(v))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown parameter(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return nil
}

// Redacted is the URL with any password replaced, safe to print.
func (s Spec) Redacted() string {
	switch s.Kind {
	case Bolt:
		return "bolt://" + s.Path
	case Redis:
		scheme := "redis"
		if s.TLS {
			scheme = "rediss"
		}
		user := ""
		if s.Username != "" || s.Password != "" {
			user = s.Username
			if s.Password != "" {
				user += ":xxxxx"
			}
			user += "@"
		}
		out := fmt.Sprintf("%s://%s%s/%d?prefix=%s", scheme, user, s.Addr, s.DB, s.Prefix)
		if s.Cluster {
			out += "&cluster=true"
		}
		for _, f := range []struct{ key, path string }{{"ca_file", s.CAFile}, {"cert_file", s.CertFile}, {"key_file", s.KeyFile}} {
			if f.path != "" {
				out += "&" + f.key + "=" + url.QueryEscape(f.path)
			}
		}
		return out
	case DynamoDB:
		if s.CABundle != "" {
			return "dynamodb://" + s.Table + "?ca_bundle=" + url.QueryEscape(s.CABundle)
		}
		return "dynamodb://" + s.Table
	}
	return string(s.Kind)
}

// redact hides a password in a raw URL that may not parse.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if len(raw) > 200 {
			return raw[:200] + "..."
		}
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "xxxxx@" + rest[at+1:]
	}
	out := scheme + "://" + rest
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	return out
}
