package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The three ways of reaching Redis: redis.url, redis.cluster and
// redis.sentinel (see Redis in types.go).

func TestRedisModes(t *testing.T) {
	cfg, ps := parseWith(t, base+"redis:\n  cluster: [10.0.0.1:6379, \"redis-2.internal:6379\"]\n  password_file: redis-pw\n  tls: true\n",
		map[string]string{"redis-pw": "s3cret\n"}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	r := cfg.Redis
	if r.Mode() != "cluster" || r.URL != "" || len(r.Cluster) != 2 || r.Password != "s3cret" || !r.TLS {
		t.Errorf("cluster config: %+v (mode %s)", r, r.Mode())
	}

	cfg, ps = parseWith(t, base+"redis:\n  sentinel:\n    master: maildesk\n    addresses: [10.0.0.1:26379, 10.0.0.2:26379]\n    password: sentinel-pw\n  username: desk\n  password: data-pw\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	r = cfg.Redis
	if r.Mode() != "sentinel" || r.URL != "" || r.Sentinel.Master != "maildesk" || len(r.Sentinel.Addresses) != 2 ||
		r.Sentinel.Password != "sentinel-pw" || r.Username != "desk" || r.Password != "data-pw" {
		t.Errorf("sentinel config: %+v (mode %s)", r, r.Mode())
	}

	// The default URL applies when neither of the others is given, and a
	// password from a file goes with it.
	cfg, ps = parseWith(t, base+"redis:\n  password_file: redis-pw\n", map[string]string{"redis-pw": "s3cret"}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if r := cfg.Redis; r.Mode() != "url" || r.URL != "redis://127.0.0.1:6379/0" || r.Password != "s3cret" {
		t.Errorf("default url config: %+v (mode %s)", r, r.Mode())
	}

	// The sentinel master can come from the environment, the rest from the
	// file; a password in the environment replaces the file's password_file.
	cfg, ps = parseWith(t, base+"redis:\n  sentinel:\n    addresses: [10.0.0.1:26379]\n  password_file: nope\n", nil,
		map[string]string{"MAILDESK_REDIS_SENTINEL_MASTER": "mymaster", "MAILDESK_REDIS_PASSWORD": "from-env"})
	if ps != nil {
		t.Fatal(ps)
	}
	if r := cfg.Redis; r.Sentinel.Master != "mymaster" || r.Password != "from-env" || r.PasswordFile != "" {
		t.Errorf("env overrides: %+v", r)
	}
}

func TestRedisValidation(t *testing.T) {
	tests := []struct {
		name   string
		redis  string // the redis section, appended to base (line 13)
		files  map[string]string
		env    map[string]string
		path   string
		line   int
		reason string
	}{
		{name: "url and cluster", redis: "redis:\n  url: redis://r:6379/0\n  cluster: [r:6379]\n", path: "redis", line: 13,
			reason: "set only one of redis.url (one server), redis.cluster and redis.sentinel (got redis.url and redis.cluster)"},
		{name: "cluster and sentinel", redis: "redis:\n  cluster: [r:6379]\n  sentinel: {master: m, addresses: [\"s:26379\"]}\n", path: "redis", line: 13,
			reason: "(got redis.cluster and redis.sentinel)"},
		{name: "url from env and cluster", redis: "redis:\n  cluster: [r:6379]\n", env: map[string]string{"MAILDESK_REDIS_URL": "redis://r:6379/0"},
			path: "redis", reason: "(got redis.url (env MAILDESK_REDIS_URL) and redis.cluster)"},
		{name: "cluster empty", redis: "redis:\n  cluster: []\n", path: "redis.cluster", line: 14, reason: "must list at least one host:port of a cluster node"},
		{name: "cluster no port", redis: "redis:\n  cluster: [r1:6379, r2]\n", path: "redis.cluster[1]", line: 14, reason: "must be host:port"},
		{name: "cluster twice", redis: "redis:\n  cluster:\n    - r1:6379\n    - R1:6379\n", path: "redis.cluster[1]", line: 16, reason: "is listed twice (also redis.cluster[0])"},
		{name: "sentinel no master", redis: "redis:\n  sentinel:\n    addresses: [\"s:26379\"]\n", path: "redis.sentinel.master", line: 14, reason: "is required"},
		{name: "sentinel master with space", redis: "redis:\n  sentinel:\n    master: my master\n    addresses: [\"s:26379\"]\n", path: "redis.sentinel.master", line: 15, reason: "without spaces"},
		{name: "sentinel no addresses", redis: "redis:\n  sentinel:\n    master: m\n", path: "redis.sentinel.addresses", line: 14, reason: "must list at least one host:port of a sentinel"},
		{name: "sentinel bad address", redis: "redis:\n  sentinel:\n    master: m\n    addresses: [\"s:0\"]\n", path: "redis.sentinel.addresses[0]", line: 16, reason: "port must be a number"},
		{name: "sentinel password twice", redis: "redis:\n  sentinel:\n    master: m\n    addresses: [\"s:26379\"]\n    password: a\n    password_file: f\n",
			files: map[string]string{"f": "b"}, path: "redis.sentinel.password_file", line: 18, reason: "not both"},
		{name: "password twice", redis: "redis:\n  password: a\n  password_file: f\n", files: map[string]string{"f": "b"}, path: "redis.password_file", line: 15, reason: "not both"},
		{name: "password_file missing", redis: "redis:\n  cluster: [r:6379]\n  password_file: nope\n", path: "redis.password_file", line: 15, reason: "cannot read"},
		{name: "password in url and file", redis: "redis:\n  url: redis://:a@r:6379/0\n  password_file: f\n", files: map[string]string{"f": "b"},
			path: "redis.password_file", line: 15, reason: "redis.url has a password already"},
		{name: "user in url and config", redis: "redis:\n  url: redis://u:a@r:6379/0\n  username: v\n", path: "redis.username", line: 15, reason: "redis.url has a user name already"},
		{name: "tls with url", redis: "redis:\n  url: redis://r:6379/0\n  tls: true\n", path: "redis.tls", line: 15, reason: "use the rediss:// scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base+tt.redis, tt.files, tt.env)
			var got *Problem
			for i := range ps {
				if ps[i].Path == tt.path {
					got = &ps[i]
				}
			}
			if got == nil {
				t.Fatalf("no problem at %s; got %v", tt.path, ps)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("%s: reason %q, want it to contain %q", tt.path, got.Reason, tt.reason)
			}
			if tt.line != 0 && got.Line != tt.line {
				t.Errorf("%s: line %d, want %d", tt.path, got.Line, tt.line)
			}
		})
	}
}

func TestRedactedRedisPasswords(t *testing.T) {
	cfg, ps := parseWith(t, base+"redis:\n  sentinel:\n    master: m\n    addresses: [\"s:26379\"]\n    password: sentinel-pw\n  password: data-pw\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	r := cfg.Redacted()
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sentinel-pw", "data-pw"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config contains %q:\n%s", secret, out)
		}
	}
	if r.Redis.Password != "***" || r.Redis.Sentinel.Password != "***" {
		t.Errorf("redacted: %q %q", r.Redis.Password, r.Redis.Sentinel.Password)
	}
	if cfg.Redis.Password != "data-pw" || cfg.Redis.Sentinel.Password != "sentinel-pw" {
		t.Error("Redacted changed the original")
	}
	r.Redis.Sentinel.Addresses[0] = "changed"
	if cfg.Redis.Sentinel.Addresses[0] == "changed" {
		t.Error("Redacted shares the sentinel addresses with the original")
	}
}
