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

// compactTodo are the closed tickets whose text is not packed yet, by
// when they were closed (index.lua adds them).
const compactTodo = "compact:todo"

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
// `before` and returns how many it packed.
func (s *Store) CompactClosed(ctx context.Context, before time.Time, limit int) (int, error) {
	numbers, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.key(compactTodo), Start: "-inf",
		Stop: strconv.FormatInt(before.UnixMilli(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil || len(numbers) == 0 {
		return 0, err
	}
	done := 0
	for _, n := range numbers {
		vals, err := s.rdb.HMGet(ctx, s.key("t:"+n), "status", "text", "quoted", "z").Result()
		if err != nil {
			return done, fmt.Errorf("compact %s: %w", n, err)
		}
		m := hmap([]string{"status", "text", "quoted", "z"}, vals)
		if m["status"] == StatusClosed && m["z"] == "" && len(m["text"])+len(m["quoted"]) >= compactMin {
			if packed, err := packText(m["text"], m["quoted"]); err == nil && len(packed) < len(m["text"])+len(m["quoted"]) {
				ok, err := compactScript.Run(ctx, s.rdb, []string{s.key("t:" + n)}, len(m["text"]), len(m["quoted"]), packed).Int()
				if err != nil {
					return done, fmt.Errorf("compact %s: %w", n, err)
				}
				done += ok
			}
		}
		if err := s.rdb.ZRem(ctx, s.key(compactTodo), n).Err(); err != nil {
			return done, fmt.Errorf("compact %s: %w", n, err)
		}
	}
	return done, nil
}
