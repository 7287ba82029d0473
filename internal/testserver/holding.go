package testserver

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Holding returns every place under key prefix kp in rdb where re matches,
// as "key: value": key names and the values of every type (hash fields and
// values, list items, set and sorted set members, stream entries). Tests
// of erasure and retention ask it whether anything is left behind.
func Holding(t testing.TB, rdb redis.Cmdable, kp string, re *regexp.Regexp) []string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, kp+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		var vals []string
		switch typ, _ := rdb.Type(ctx, k).Result(); typ {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				vals = append(vals, fmt.Sprint(m.Values))
			}
		}
		for _, v := range append(vals, k) {
			if re.MatchString(v) {
				out = append(out, k+": "+v)
			}
		}
	}
	return out
}
