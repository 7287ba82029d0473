package main

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
)

func TestOpenRedisPicksTheClient(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		cfg  config.Redis
		want string
	}{
		{"url", config.Redis{URL: "redis://127.0.0.1:6379/0"}, "*redis.Client"},
		{"unix", config.Redis{URL: "unix:///run/redis.sock"}, "*redis.Client"},
		{"cluster", config.Redis{Cluster: []string{"10.0.0.1:6379"}}, "*redis.ClusterClient"},
		{"sentinel", config.Redis{Sentinel: config.RedisSentinel{Master: "m", Addresses: []string{"10.0.0.1:26379"}}}, "*redis.Client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rdb, err := openRedis(ctx, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			got := ""
			switch c := rdb.(type) {
			case *redis.Client:
				got = "*redis.Client"
				if tt.name == "sentinel" && !strings.Contains(c.String(), "FailoverClient") {
					t.Errorf("sentinel: got %s, want a failover client", c.String())
				}
			case *redis.ClusterClient:
				got = "*redis.ClusterClient"
			}
			if got != tt.want {
				t.Errorf("openRedis gave %T, want %s", rdb, tt.want)
			}
		})
	}
}

func TestRedisOptions(t *testing.T) {
	// One server: the URL, with the configured credentials where the URL
	// has none.
	opt, err := singleOptions(config.Redis{URL: "redis://10.0.0.1:6380/2", Username: "desk", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if opt.Addr != "10.0.0.1:6380" || opt.DB != 2 || opt.Username != "desk" || opt.Password != "pw" || opt.TLSConfig != nil {
		t.Errorf("single: %+v", opt)
	}
	opt, err = singleOptions(config.Redis{URL: "rediss://:urlpw@redis.example:6380/0"})
	if err != nil {
		t.Fatal(err)
	}
	if opt.Password != "urlpw" || opt.TLSConfig == nil {
		t.Errorf("rediss: password %q, TLS %v", opt.Password, opt.TLSConfig)
	}
	// A URL that does not parse is reported without quoting it.
	if _, err := singleOptions(config.Redis{URL: "redis://:secret@[::1"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: err = %v", err)
	}
	// The daemon's error names the field; check-config puts the same
	// reason after it (TestCheckConfigRedisURL).
	if _, err := openRedis(context.Background(), config.Redis{URL: "redis://:secret@[::1"}); err == nil || err.Error() != "redis.url: not a valid URL" {
		t.Errorf("openRedis with a bad URL: err = %v", err)
	}

	c := config.Redis{
		Cluster:  []string{"10.0.0.1:6379", "10.0.0.2:6379"},
		Username: "desk", Password: "pw", TLS: true,
	}
	co := clusterOptions(c)
	if strings.Join(co.Addrs, ",") != "10.0.0.1:6379,10.0.0.2:6379" || co.Username != "desk" || co.Password != "pw" || co.ReadOnly {
		t.Errorf("cluster: %+v", co)
	}
	if co.TLSConfig == nil || co.TLSConfig.MinVersion != tls.VersionTLS12 || co.TLSConfig.ServerName != "" || co.TLSConfig.InsecureSkipVerify {
		t.Errorf("cluster TLS: %+v", co.TLSConfig)
	}
	co.Addrs[0] = "changed"
	if c.Cluster[0] == "changed" {
		t.Error("clusterOptions shares the address list with the config")
	}

	s := config.Redis{
		Sentinel: config.RedisSentinel{Master: "maildesk", Addresses: []string{"10.0.0.1:26379"}, Username: "sentinel", Password: "spw"},
		Password: "pw",
	}
	fo := failoverOptions(s)
	if fo.MasterName != "maildesk" || len(fo.SentinelAddrs) != 1 || fo.SentinelUsername != "sentinel" || fo.SentinelPassword != "spw" ||
		fo.Password != "pw" || fo.Username != "" || fo.TLSConfig != nil || fo.DB != 0 {
		t.Errorf("sentinel: %+v", fo)
	}
}

func TestRedisTarget(t *testing.T) {
	a := config.Redis{Cluster: []string{"r2:6379", "R1:6379"}}
	b := config.Redis{Cluster: []string{"r1:6379", "r2:6379"}}
	s := config.Redis{Sentinel: config.RedisSentinel{Master: "m", Addresses: []string{"r1:6379", "r2:6379"}}}
	u := config.Redis{URL: "redis://r1:6379/0"}
	if redisTarget(a) != redisTarget(b) {
		t.Errorf("one cluster, two names: %s, %s", redisTarget(a), redisTarget(b))
	}
	names := map[string]bool{redisTarget(a): true, redisTarget(s): true, redisTarget(u): true, redisTarget(config.Redis{URL: "redis://r1:6379/1"}): true}
	if len(names) != 4 {
		t.Errorf("different Redis, same name: %v", names)
	}
}
