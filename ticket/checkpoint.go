package ticket

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Checkpoint is how far ingest got in one mailbox: the mailbox's
// UIDVALIDITY and the lowest UID not yet dealt with.
type Checkpoint struct {
	Validity uint32
	Next     uint32
}

// LoadCheckpoint returns the checkpoint of mailbox, zero when there is none.
func (s *Store) LoadCheckpoint(ctx context.Context, mailbox string) (Checkpoint, error) {
	m, err := s.rdb.HGetAll(ctx, s.key("mailbox:"+mailbox)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Checkpoint{}, fmt.Errorf("load checkpoint of %s: %w", mailbox, err)
	}
	v, _ := strconv.ParseUint(m["uidvalidity"], 10, 32)
	n, _ := strconv.ParseUint(m["next"], 10, 32)
	return Checkpoint{Validity: uint32(v), Next: uint32(n)}, nil
}

// SaveCheckpoint stores the checkpoint of mailbox.
func (s *Store) SaveCheckpoint(ctx context.Context, mailbox string, cp Checkpoint) error {
	if err := s.rdb.HSet(ctx, s.key("mailbox:"+mailbox), "uidvalidity", cp.Validity, "next", cp.Next).Err(); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", mailbox, err)
	}
	return nil
}
