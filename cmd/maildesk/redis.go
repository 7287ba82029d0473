package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// openRedis returns a client for the Redis that c names: one server
// (redis.url), a Redis Cluster (redis.cluster) or a primary found through
// Sentinel (redis.sentinel). It does not wait for the server: the daemon
// must start (and report) while Redis is still unreachable.
//
// Every multi-key command and script maildesk runs uses keys of one desk
// only, which share a hash slot (config.KeyPrefix), so all of them work on
// a Cluster unchanged.
func openRedis(ctx context.Context, c config.Redis) (redis.UniversalClient, error) {
	return openRedisObserved(ctx, c, nil)
}

// openRedisObserved is openRedis telling server the run id of the Redis
// server every new connection reaches (the daemon's journal: a server it
// has not compared with the mailbox yet may have lost writes).
func openRedisObserved(_ context.Context, c config.Redis, server func(runID string)) (redis.UniversalClient, error) {
	var onConnect func(context.Context, *redis.Conn) error
	if server != nil {
		onConnect = func(ctx context.Context, cn *redis.Conn) error {
			server(ticket.ServerID(ctx, cn))
			return nil
		}
	}
	switch c.Mode() {
	case "cluster":
		o := clusterOptions(c)
		o.OnConnect = onConnect
		return redis.NewClusterClient(o), nil
	case "sentinel":
		o := failoverOptions(c)
		o.OnConnect = onConnect
		return redis.NewFailoverClient(o), nil
	}
	opt, err := singleOptions(c)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	opt.OnConnect = onConnect
	return redis.NewClient(opt), nil
}

// singleOptions are the options of redis.url, with redis.username and
// redis.password (validation makes sure the URL has none of its own then).
// Its errors are the reason alone, to follow the field's name.
func singleOptions(c config.Redis) (*redis.Options, error) {
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		// net/url's errors quote the URL, password and all.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			return nil, errors.New("not a valid URL")
		}
		return nil, err
	}
	if c.Username != "" {
		opt.Username = c.Username
	}
	if c.Password != "" {
		opt.Password = c.Password
	}
	return opt, nil
}

// clusterOptions: every node is a master or a replica of the same
// cluster, so one set of credentials and TLS settings serves them all.
// Commands go to masters only (no ReadOnly): the desk reads its own writes.
func clusterOptions(c config.Redis) *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:     append([]string(nil), c.Cluster...),
		Username:  c.Username,
		Password:  c.Password,
		TLSConfig: redisTLS(c),
	}
}

// failoverOptions: the sentinels name the primary; the client follows
// failovers (it asks the sentinels again and listens for +switch-master).
// Database 0, as a Cluster has.
func failoverOptions(c config.Redis) *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName:       c.Sentinel.Master,
		SentinelAddrs:    append([]string(nil), c.Sentinel.Addresses...),
		SentinelUsername: c.Sentinel.Username,
		SentinelPassword: c.Sentinel.Password,
		Username:         c.Username,
		Password:         c.Password,
		TLSConfig:        redisTLS(c),
	}
}

// redisTarget names the Redis that c reaches, the same for two desks'
// configs that list the same servers (in any order): what is kept once per
// Redis in a process with several desks (the lease manager and its replica
// registry) is keyed by it. Two seed lists of one Cluster that differ give
// two names; list the same seeds for every desk.
func redisTarget(c config.Redis) string {
	sorted := func(addrs []string) string {
		a := make([]string, len(addrs))
		for i, s := range addrs {
			a[i] = strings.ToLower(s)
		}
		slices.Sort(a)
		return strings.Join(slices.Compact(a), ",")
	}
	switch c.Mode() {
	case "cluster":
		return "cluster:" + sorted(c.Cluster)
	case "sentinel":
		return "sentinel:" + c.Sentinel.Master + "@" + sorted(c.Sentinel.Addresses)
	}
	return "url:" + c.URL
}

// redisTLS is the TLS setting of redis.tls. ServerName stays empty: Go
// then checks each node's certificate against the host name it dials,
// which for a Cluster is the address the node announces.
func redisTLS(c config.Redis) *tls.Config {
	if !c.TLS {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}
