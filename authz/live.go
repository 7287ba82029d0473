package authz

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/maildesk/maildesk/config"
)

// Live is the directory a running daemon decides with: the version last
// loaded from the Store, swapped whole when Refresh finds a newer one, so
// that Decide never waits for Redis and never sees half a change.
type Live struct {
	store *Store
	opts  []Option
	cur   atomic.Pointer[Directory]
	ver   atomic.Int64

	mu      sync.Mutex // serialises Refresh and guards file, pending
	file    *queued    // the contacts file's content as last read
	pending bool       // file not yet offered to the store
}

type queued struct {
	customers []config.Customer
	origin    Origin
}

// NewLive decides with initial until Refresh loads a directory from store;
// initial is typically the contacts file's customers, so that the daemon
// works while Redis is unreachable at start.
func NewLive(store *Store, initial *Directory, opts ...Option) *Live {
	l := &Live{store: store, opts: opts}
	l.cur.Store(initial)
	return l
}

// Decide judges a sender by the current directory.
func (l *Live) Decide(sender string) Decision { return l.cur.Load().Decide(sender) }

// Directory returns the current directory.
func (l *Live) Directory() *Directory { return l.cur.Load() }

// Version returns the store version of the current directory, 0 while it
// is still the initial one.
func (l *Live) Version() int64 { return l.ver.Load() }

// QueueFile hands Live the validated content of the contacts file, to be
// imported by the next Refresh under the file-vs-Redis rule (see Store). It
// stays queued until an import attempt reaches Redis, so a file read while
// Redis is down is imported once it is back. It is also imported again
// whenever Redis is found without a directory (data lost in a restart
// without persistence).
func (l *Live) QueueFile(customers []config.Customer, o Origin) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.file, l.pending = &queued{customers: customers, origin: o}, true
}

// Refreshed is what one Refresh did.
type Refreshed struct {
	// Imported: the queued contacts file differed from the last import and
	// replaced the directory in Redis.
	Imported bool
	// Loaded: a new version is now in use.
	Loaded  bool
	Version int64
}

// Refresh imports a queued contacts file if it changed, then loads the
// directory from Redis if its version differs from the one in use. On an
// error the current directory stays.
func (l *Live) Refresh(ctx context.Context) (Refreshed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r Refreshed
	v, err := l.store.Version(ctx)
	if err != nil {
		return r, err
	}
	if l.file != nil && (l.pending || v == 0) {
		imported, nv, err := l.store.ImportIfChanged(ctx, l.file.customers, l.file.origin)
		if err != nil {
			return r, err
		}
		l.pending, r.Imported, v = false, imported, nv
	}
	r.Version = v
	if v == 0 || v == l.ver.Load() {
		return r, nil
	}
	cs, v, err := l.store.Load(ctx)
	if err != nil {
		return r, err
	}
	l.cur.Store(NewDirectory(cs, l.opts...))
	l.ver.Store(v)
	r.Loaded, r.Version = true, v
	return r, nil
}
