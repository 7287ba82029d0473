package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
)

// The directory lives in Redis so that every replica and the CLI see the
// same one, and edits made with `maildesk contacts add/remove` are kept.
//
// The file-vs-Redis rule: at start and on SIGHUP the daemon imports the
// contacts file only if its SHA-256 differs from the one recorded at the
// last import (ImportIfChanged), so CLI edits survive restarts until the
// file itself changes; when Redis holds no directory yet the file is always
// imported. `maildesk contacts import FILE` always imports (Replace), and
// records the hash of the desk's contacts_file as it is at that moment, so
// that importing some other file (a CSV export) is not undone by the next
// restart either.

// Store keeps one desk's directory in Redis: a single hash holding the
// whole directory as one JSON document, a version counter that goes up with
// every change, and where the directory came from. One key keeps every
// change atomic, also on Redis Cluster.
type Store struct {
	rdb redis.UniversalClient
	key string
}

// Fields of the directory hash.
const (
	fieldDoc     = "doc"
	fieldVersion = "version"
	fieldSource  = "source"
	fieldFileSum = "contacts_file_sha256"
	fieldUpdated = "updated_at"
)

// ErrNoDirectory: Redis holds no directory yet; import one first.
var ErrNoDirectory = errors.New("no directory in Redis yet (import a contacts file first)")

// ErrNotFound: the customer or contact named does not exist.
var ErrNotFound = errors.New("not found")

// maxAttempts bounds the retries of a read-modify-write that keeps losing
// to concurrent changes.
const maxAttempts = 5

// NewStore returns the store of desk deskID. Its key shares the desk's hash
// tag as every other key of the desk (config.KeyPrefix).
func NewStore(rdb redis.UniversalClient, deskID string) *Store {
	return &Store{rdb: rdb, key: config.KeyPrefix(deskID) + "directory"}
}

// Origin says where a directory written by Replace comes from.
type Origin struct {
	// Source names what was imported, for people: "contacts.csv sha256:…".
	Source string
	// FileSum is SHA256 of the desk's contacts_file as it was at
	// this import; ImportIfChanged compares against it. Empty when the file
	// could not be read: the next ImportIfChanged then imports.
	FileSum string
}

// Load returns the directory and its version; version 0 and no customers
// when Redis holds none yet.
func (s *Store) Load(ctx context.Context) ([]config.Customer, int64, error) {
	vals, err := s.rdb.HMGet(ctx, s.key, fieldDoc, fieldVersion).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("loading directory %s: %w", s.key, err)
	}
	return decode(s.key, vals)
}

func decode(key string, vals []any) ([]config.Customer, int64, error) {
	doc, _ := vals[0].(string)
	ver, _ := vals[1].(string)
	if ver == "" {
		return nil, 0, nil
	}
	v, err := strconv.ParseInt(ver, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("directory %s: bad version %q", key, ver)
	}
	var d document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, 0, fmt.Errorf("decoding directory %s version %d: %w", key, v, err)
	}
	return customers(d.Customers), v, nil
}

// Version returns the directory's version, 0 when there is none: a cheap
// way to learn whether it changed.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := s.rdb.HGet(ctx, s.key, fieldVersion).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading directory version: %w", err)
	}
	return v, nil
}

// ImportedHash returns the Origin.FileSum recorded by the last import, ""
// when there was none.
func (s *Store) ImportedHash(ctx context.Context) (string, error) {
	h, err := s.rdb.HGet(ctx, s.key, fieldFileSum).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading imported contacts hash: %w", err)
	}
	return h, nil
}

// Info describes the stored directory.
type Info struct {
	Version   int64
	Source    string
	FileSum   string
	UpdatedAt time.Time
}

// Info returns what is known about the stored directory besides its
// content; Version 0 when there is none.
func (s *Store) Info(ctx context.Context) (Info, error) {
	vals, err := s.rdb.HMGet(ctx, s.key, fieldVersion, fieldSource, fieldFileSum, fieldUpdated).Result()
	if err != nil {
		return Info{}, fmt.Errorf("reading directory info: %w", err)
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	var in Info
	in.Version, _ = strconv.ParseInt(str(0), 10, 64)
	in.Source, in.FileSum = str(1), str(2)
	in.UpdatedAt, _ = time.Parse(time.RFC3339, str(3))
	return in, nil
}

// Replace makes customers the whole directory, atomically, and returns the
// new version. customers must have passed config validation (ParseContacts).
func (s *Store) Replace(ctx context.Context, customers []config.Customer, o Origin) (int64, error) {
	doc, err := encode(customers)
	if err != nil {
		return 0, err
	}
	var incr *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.write(ctx, p, doc, &o)
		incr = p.HIncrBy(ctx, s.key, fieldVersion, 1)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replacing directory from %s: %w", o.Source, err)
	}
	return incr.Val(), nil
}

// ImportIfChanged replaces the directory with customers when Redis holds
// none yet or o.FileSum differs from the one recorded at the last import,
// and reports whether it did. This is the daemon's side of the
// file-vs-Redis rule.
func (s *Store) ImportIfChanged(ctx context.Context, customers []config.Customer, o Origin) (imported bool, version int64, err error) {
	doc, err := encode(customers)
	if err != nil {
		return false, 0, err
	}
	err = s.retry(ctx, func(tx *redis.Tx) error {
		imported = false
		vals, err := tx.HMGet(ctx, s.key, fieldVersion, fieldFileSum).Result()
		if err != nil {
			return err
		}
		ver, _ := vals[0].(string)
		sum, _ := vals[1].(string)
		if ver != "" && o.FileSum != "" && sum == o.FileSum {
			version, err = strconv.ParseInt(ver, 10, 64)
			return err
		}
		var incr *redis.IntCmd
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.write(ctx, p, doc, &o)
			incr = p.HIncrBy(ctx, s.key, fieldVersion, 1)
			return nil
		})
		if err != nil {
			return err
		}
		imported, version = true, incr.Val()
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("importing %s if changed: %w", o.Source, err)
	}
	return imported, version, nil
}

// Add adds contact c to customer customerID. The whole directory after the
// change must pass ValidateCustomers with plans (a duplicate
// address, a second main contact, more contacts than the plan allows); a
// failure is an error wrapping config.Problems and changes nothing.
func (s *Store) Add(ctx context.Context, customerID string, c config.Contact, plans map[string]config.Plan) error {
	err := s.update(ctx, func(cs []config.Customer) error {
		for i := range cs {
			if cs[i].ID == customerID {
				cs[i].Contacts = append(cs[i].Contacts, c)
				if ps := ValidateCustomers(cs, plans); len(ps) > 0 {
					return ps
				}
				return nil
			}
		}
		return fmt.Errorf("customer %s: %w", customerID, ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("adding %s to customer %s: %w", c.Email, customerID, err)
	}
	return nil
}

// Remove removes the contact with this address from whichever customer
// has it. Removing cannot break a rule of the directory, so nothing is
// validated; a customer may be left without a main contact.
func (s *Store) Remove(ctx context.Context, email string) error {
	addr := normalise(email)
	err := s.update(ctx, func(cs []config.Customer) error {
		for i := range cs {
			for j, ct := range cs[i].Contacts {
				if normalise(ct.Email) == addr {
					cs[i].Contacts = append(cs[i].Contacts[:j], cs[i].Contacts[j+1:]...)
					return nil
				}
			}
		}
		return fmt.Errorf("contact %s: %w", addr, ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("removing %s: %w", addr, err)
	}
	return nil
}

// update is a read-modify-write of the directory, guarded by WATCH so that
// a concurrent change (another CLI, an import) makes it start over.
func (s *Store) update(ctx context.Context, change func([]config.Customer) error) error {
	return s.retry(ctx, func(tx *redis.Tx) error {
		vals, err := tx.HMGet(ctx, s.key, fieldDoc, fieldVersion).Result()
		if err != nil {
			return err
		}
		cs, ver, err := decode(s.key, vals)
		if err != nil {
			return err
		}
		if ver == 0 {
			return ErrNoDirectory
		}
		if err := change(cs); err != nil {
			return err
		}
		doc, err := encode(cs)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.write(ctx, p, doc, nil)
			p.HIncrBy(ctx, s.key, fieldVersion, 1)
			return nil
		})
		return err
	})
}

func (s *Store) retry(ctx context.Context, fn func(*redis.Tx) error) error {
	for attempt := range maxAttempts {
		err := s.rdb.Watch(ctx, fn, s.key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		// Random back-off, so that writers that collided do not collide
		// again in lockstep.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(5*time.Millisecond) << attempt))):
		}
	}
	return fmt.Errorf("directory changed concurrently %d times in a row; try again", maxAttempts)
}

// write queues the directory document; o, for imports, also records their
// origin, which edits keep.
func (s *Store) write(ctx context.Context, p redis.Pipeliner, doc []byte, o *Origin) {
	vals := []any{fieldDoc, doc, fieldUpdated, time.Now().UTC().Format(time.RFC3339)}
	if o != nil {
		vals = append(vals, fieldSource, o.Source, fieldFileSum, o.FileSum)
	}
	p.HSet(ctx, s.key, vals...)
}

func encode(cs []config.Customer) ([]byte, error) {
	doc, err := json.Marshal(document{Customers: records(cs)})
	if err != nil {
		return nil, fmt.Errorf("encoding directory: %w", err)
	}
	return doc, nil
}
