package ticket

import (
	"bytes"
	"compress/flate"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A closed ticket's mail text is kept compressed: closed is final, the
// text is read only when someone opens the ticket, and it is most of a
// ticket's memory.

//go:embed compact.lua
var compactSrc string

var compactScript = redis.NewScript(compactSrc)

// compactFrom is how far compaction got in idx:closed (a score).
const compactFrom = "compact:from"

// compactMin: shorter texts are left as they are (compression would not
// pay for itself).
const compactMin = 256

// packText compresses text and quoted into one value: the length of text
// as a uvarint, then text and quoted, deflated.
func packText(text, quoted string) (string, error) {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		return "", err
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(n[:binary.PutUvarint(n[:], uint64(len(text)))]); err != nil {
		return "", err
	}
	_, _ = io.WriteString(w, text)
	_, _ = io.WriteString(w, quoted)
	if err := w.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// maxUnpacked bounds what one packed value may expand to: a ticket's text
// is a mail's, which ingest caps far below this.
const maxUnpacked = 64 << 20

func unpackText(z string) (text, quoted string, err error) {
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader([]byte(z))), maxUnpacked))
	if err != nil {
		return "", "", err
	}
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)-k) {
		return "", "", errors.New("bad packed text")
	}
	raw = raw[k:]
	return string(raw[:n]), string(raw[n:]), nil
}

// CompactClosed packs the text of up to limit tickets closed before
// `before`, going on from where the last call stopped. It returns how many
// it packed.
func (s *Store) CompactClosed(ctx context.Context, before time.Time, limit int) (int, error) {
	from, err := s.rdb.Get(ctx, s.key(compactFrom)).Result()
	if errors.Is(err, redis.Nil) {
		from = "-inf"
	} else if err != nil {
		return 0, fmt.Errorf("compact closed tickets: %w", err)
	} else {
		from = "(" + from
	}
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.key(idxClosed), Start: from,
		Stop: strconv.FormatInt(before.UnixMilli(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil || len(zs) == 0 {
		return 0, err
	}
	done := 0
	for _, z := range zs {
		n, _ := z.Member.(string)
		vals, err := s.rdb.HMGet(ctx, s.key("t:"+n), "status", "text", "quoted", "z").Result()
		if err != nil {
			return done, fmt.Errorf("compact %s: %w", n, err)
		}
		m := hmap([]string{"status", "text", "quoted", "z"}, vals)
		if m["status"] != StatusClosed || m["z"] != "" || len(m["text"])+len(m["quoted"]) < compactMin {
			continue
		}
		packed, err := packText(m["text"], m["quoted"])
		if err != nil || len(packed) >= len(m["text"])+len(m["quoted"]) {
			continue
		}
		ok, err := compactScript.Run(ctx, s.rdb, []string{s.key("t:" + n)}, len(m["text"]), len(m["quoted"]), packed).Int()
		if err != nil {
			return done, fmt.Errorf("compact %s: %w", n, err)
		}
		done += ok
	}
	last := strconv.FormatInt(int64(zs[len(zs)-1].Score), 10)
	if err := s.rdb.Set(ctx, s.key(compactFrom), last, 0).Err(); err != nil {
		return done, fmt.Errorf("compact closed tickets: %w", err)
	}
	return done, nil
}
