package ticket

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed index_one.lua
var indexOneSrc string

var indexOneScript = redis.NewScript(indexSrc + indexOneSrc)

// buildChunk is how many tickets one step of the build or check reads.
const buildChunk = 500

// indexed reports whether every ticket is in the indexes. A desk whose
// tickets were all made by this version (as many tickets in idx:created
// as in tickets) counts as built at once.
func (s *Store) indexed(ctx context.Context) (bool, error) {
	if s.built.Load() {
		return true, nil
	}
	var v *redis.StringCmd
	var all, in *redis.IntCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		v = p.Get(ctx, s.key(idxVersion))
		all = p.ZCard(ctx, s.key("tickets"))
		in = p.ZCard(ctx, s.key(idxCreated))
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("read the index version: %w", err)
	}
	if v.Val() == indexVersion || all.Val() == in.Val() {
		if v.Val() != indexVersion {
			if err := s.rdb.Set(ctx, s.key(idxVersion), indexVersion, 0).Err(); err != nil {
				return false, fmt.Errorf("record the index version: %w", err)
			}
		}
		s.built.Store(true)
		return true, nil
	}
	return false, nil
}

// EnsureIndexes puts the tickets made before the indexes existed into them:
// run on start, in the background (listing reads every ticket meanwhile).
// It goes in ticket order from where it got to, so it resumes after a
// restart, and is idempotent, so replicas running it at once do no harm.
// progress, when not nil, is told the tickets done so far.
func (s *Store) EnsureIndexes(ctx context.Context, progress func(done int)) error {
	if ok, err := s.indexed(ctx); err != nil || ok {
		return err
	}
	from, err := s.rdb.Get(ctx, s.key(idxBuild)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("build the ticket indexes: %w", err)
	}
	done := 0
	for {
		zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.key("tickets"),
			Start: "(" + strconv.FormatInt(from, 10), Stop: "+inf", ByScore: true, Count: buildChunk}).Result()
		if err != nil {
			return fmt.Errorf("build the ticket indexes: %w", err)
		}
		if len(zs) == 0 {
			break
		}
		numbers := make([]string, len(zs))
		for i, z := range zs {
			numbers[i], _ = z.Member.(string)
		}
		if _, err := s.indexTickets(ctx, numbers); err != nil {
			return fmt.Errorf("build the ticket indexes: %w", err)
		}
		from = int64(zs[len(zs)-1].Score)
		if err := s.rdb.Set(ctx, s.key(idxBuild), from, 0).Err(); err != nil {
			return fmt.Errorf("build the ticket indexes: %w", err)
		}
		done += len(zs)
		if progress != nil {
			progress(done)
		}
	}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.key(idxVersion), indexVersion, 0)
		p.Del(ctx, s.key(idxBuild))
		return nil
	}); err != nil {
		return fmt.Errorf("build the ticket indexes: %w", err)
	}
	s.built.Store(true)
	return nil
}

// indexFields are what the indexes of a ticket are computed from.
var indexFields = []string{"status", "customer", "assignee", "people", "contact", "participants",
	"created_at", "updated_at", "resolved_at", "subject", "anonymised_at", fieldNeedsAgent}

// indexTickets runs index_one.lua for numbers, with their people computed
// from the contact, the participants, the people already recorded and the
// writers of their follow-ups. It returns how many exist.
func (s *Store) indexTickets(ctx context.Context, numbers []string) (int, error) {
	fields := make([]*redis.SliceCmd, len(numbers))
	events := make([]*redis.StringSliceCmd, len(numbers))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			fields[i] = p.HMGet(ctx, s.key("t:"+n), indexFields...)
			events[i] = p.LRange(ctx, s.key("t:"+n+":events"), 0, -1)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	var calls [][]any
	for i, n := range numbers {
		f := hmap(indexFields, fields[i].Val())
		if f["status"] == "" && f["customer"] == "" && f["created_at"] == "" {
			continue // gone
		}
		ppl := strings.Fields(f["people"])
		for _, a := range append([]string{f["contact"]}, strings.Fields(f["participants"])...) {
			if k := personKey(a); k != "" && !slices.Contains(ppl, k) {
				ppl = append(ppl, k)
			}
		}
		for _, raw := range events[i].Val() {
			var e Event
			if json.Unmarshal([]byte(raw), &e) == nil {
				if k := writer(e); k != "" && !slices.Contains(ppl, k) {
					ppl = append(ppl, k)
				}
			}
		}
		search := ""
		if f["anonymised_at"] == "" {
			search = searchText(f["subject"])
		}
		waiting := ""
		if f[fieldNeedsAgent] != "" {
			waiting = strconv.FormatInt(msOf(f[fieldNeedsAgent]), 10)
		}
		calls = append(calls, []any{s.kp, n, msOf(f["created_at"]), strings.Join(ppl, " "),
			msOf(cmp.Or(f["updated_at"], f["resolved_at"], f["created_at"])), search, s.o.SearchWindow, waiting})
	}
	err := s.runPipelined(ctx, indexOneScript, func(i int) []string { return []string{s.key("t:" + calls[i][1].(string))} }, calls)
	return len(calls), err
}

// runPipelined runs script once per args in one pipeline, loading it first
// (EVALSHA in a pipeline cannot fall back to EVAL per command).
func (s *Store) runPipelined(ctx context.Context, sc *redis.Script, keys func(i int) []string, args [][]any) error {
	if len(args) == 0 {
		return nil
	}
	if err := sc.Load(ctx, s.rdb).Err(); err != nil {
		return err
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range args {
			sc.EvalSha(ctx, p, keys(i), a...)
		}
		return nil
	})
	return err
}

func hmap(fields []string, vals []any) map[string]string {
	m := make(map[string]string, len(fields))
	fillHash(m, fields, vals)
	return m
}

// fillHash puts the fields HMGET answered (vals, in the order of fields)
// into m; a field the hash lacks stays out.
func fillHash(m map[string]string, fields []string, vals []any) {
	for i, v := range vals {
		if str, ok := v.(string); ok {
			m[fields[i]] = str
		}
	}
}

// msOf is an RFC 3339 time in unix ms, 0 when it is none.
func msOf(ts string) int64 {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}

// IndexReport is what CheckIndexes found.
type IndexReport struct {
	Tickets int `json:"tickets"`
	// Missing are index entries a ticket's fields call for but that were
	// not there; Stale entries that no ticket's fields call for.
	Missing  int      `json:"missing"`
	Stale    int      `json:"stale"`
	Repaired bool     `json:"repaired"`
	Examples []string `json:"examples,omitempty"`
}

func (r *IndexReport) example(format string, args ...any) {
	if len(r.Examples) < 20 {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// expectedKeys are the index keys a ticket's fields put it in, as
// index.lua computes them (idx_keys), plus the time and retention indexes
// and the tickets waiting for an agent (change.lua).
func (s *Store) expectedKeys(f map[string]string) []string {
	var ks []string
	if st := f["status"]; st != "" {
		ks = append(ks, s.key("idx:status:"+st))
		if Open(st) {
			ks = append(ks, s.key(idxOpen))
		} else if f["anonymised_at"] != "" {
			ks = append(ks, s.key(idxAnon))
		} else {
			ks = append(ks, s.key(idxClosed))
		}
	}
	if c := f["customer"]; c != "" {
		ks = append(ks, s.key("idx:customer:"+c))
	}
	if a := f["assignee"]; a != "" {
		ks = append(ks, s.key("idx:assignee:"+asciiLower(a)))
	}
	for _, p := range strings.Fields(f["people"]) {
		ks = append(ks, s.key("idx:contact:"+p))
	}
	if f[fieldNeedsAgent] != "" {
		ks = append(ks, s.key(needsAgentIndex))
	}
	return append(ks, s.key(idxCreated))
}

// CheckIndexes compares the indexes with the tickets' fields: entries
// missing for a ticket, and entries no ticket calls for (a ticket gone, or
// whose fields changed outside the scripts). With repair it puts the
// missing ones in and takes the stale ones out. It reads every ticket and
// every index entry: a maintenance command, not something to run often.
func (s *Store) CheckIndexes(ctx context.Context, repair bool) (IndexReport, error) {
	r := IndexReport{Repaired: repair}
	var from int64
	for {
		zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.key("tickets"),
			Start: "(" + strconv.FormatInt(from, 10), Stop: "+inf", ByScore: true, Count: buildChunk}).Result()
		if err != nil {
			return r, fmt.Errorf("check the ticket indexes: %w", err)
		}
		if len(zs) == 0 {
			break
		}
		from = int64(zs[len(zs)-1].Score)
		numbers := make([]string, len(zs))
		for i, z := range zs {
			numbers[i], _ = z.Member.(string)
		}
		fields, err := s.readHashes(ctx, numbers, indexFields)
		if err != nil {
			return r, fmt.Errorf("check the ticket indexes: %w", err)
		}
		type probe struct {
			number, key string
			cmd         *redis.FloatCmd
		}
		var probes []probe
		var broken []string
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range numbers {
				f := fields[i]
				if f["status"] == "" && f["created_at"] == "" {
					continue
				}
				r.Tickets++
				if f["people"] == "" && people(f["contact"], strings.Fields(f["participants"])) != "" {
					r.Missing++
					r.example("%s: no people field", n)
					broken = append(broken, n)
				}
				for _, k := range s.expectedKeys(f) {
					probes = append(probes, probe{n, k, p.ZScore(ctx, k, n)})
				}
			}
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return r, fmt.Errorf("check the ticket indexes: %w", err)
		}
		for _, pr := range probes {
			if errors.Is(pr.cmd.Err(), redis.Nil) {
				r.Missing++
				r.example("%s: not in %s", pr.number, strings.TrimPrefix(pr.key, s.kp))
				if !slices.Contains(broken, pr.number) {
					broken = append(broken, pr.number)
				}
			} else if pr.cmd.Err() != nil {
				return r, fmt.Errorf("check the ticket indexes: %w", pr.cmd.Err())
			}
		}
		if repair && len(broken) > 0 {
			if _, err := s.indexTickets(ctx, broken); err != nil {
				return r, fmt.Errorf("repair the ticket indexes: %w", err)
			}
		}
	}
	if err := s.checkStale(ctx, &r, repair); err != nil {
		return r, err
	}
	if repair {
		if err := s.rdb.Set(ctx, s.key(idxVersion), indexVersion, 0).Err(); err != nil {
			return r, fmt.Errorf("repair the ticket indexes: %w", err)
		}
		s.rdb.Del(ctx, s.key(idxBuild))
	}
	return r, nil
}

// checkStale looks at every entry of every index.
func (s *Store) checkStale(ctx context.Context, r *IndexReport, repair bool) error {
	node := s.slotNode(ctx)
	var keys []string
	iter := node.Scan(ctx, 0, s.kp+"idx:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("check the ticket indexes: list them: %w", err)
	}
	slices.Sort(keys)
	for _, key := range keys {
		name := strings.TrimPrefix(key, s.kp)
		if name == idxVersion || name == idxBuild {
			continue
		}
		var cursor uint64
		for {
			vals, next, err := s.rdb.ZScan(ctx, key, cursor, "", 1000).Result()
			if err != nil {
				return fmt.Errorf("check the ticket indexes: read %s: %w", name, err)
			}
			var members, numbers []string
			for i := 0; i+1 < len(vals); i += 2 {
				m := vals[i]
				n := m
				if name == idxSubjects {
					n, _, _ = strings.Cut(m, " ")
				}
				members, numbers = append(members, m), append(numbers, n)
			}
			fields, err := s.readHashes(ctx, numbers, indexFields)
			if err != nil {
				return fmt.Errorf("check the ticket indexes: %w", err)
			}
			var stale []any
			for i, n := range numbers {
				f := fields[i]
				gone := f["status"] == "" && f["created_at"] == ""
				ok := !gone && (name == idxSubjects && f["anonymised_at"] == "" || slices.Contains(s.expectedKeys(f), key))
				if !ok {
					r.Stale++
					r.example("%s: in %s but %s", n, name, map[bool]string{true: "it does not exist", false: "its fields say otherwise"}[gone])
					stale = append(stale, members[i])
				}
			}
			if repair && len(stale) > 0 {
				if err := s.rdb.ZRem(ctx, key, stale...).Err(); err != nil {
					return fmt.Errorf("repair the ticket indexes: %w", err)
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// slotNode is the client of the node holding the desk's keys: SCAN walks
// one node, and in a Redis Cluster the desk's keys are all on one.
func (s *Store) slotNode(ctx context.Context) redis.Cmdable {
	return SlotNode(ctx, s.rdb, s.key("seq"))
}

// SlotNode is the Redis node that holds key: on a cluster, SCAN lists one
// node's keys, and all of a desk's keys share one hash slot (their prefix
// is a hash tag), so a scan of the desk's keys goes to key's master.
func SlotNode(ctx context.Context, rdb redis.UniversalClient, key string) redis.Cmdable {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		if n, err := c.MasterForKey(ctx, key); err == nil {
			return n
		}
	}
	return rdb
}
