// Package rediserr reads the code of a Redis error reply: its first word,
// by which Redis (NOGROUP, BUSYGROUP, NOSCRIPT) and maildesk's own Lua
// scripts (redis.error_reply('NOTICKET SD-4'), ticket's codes) say what
// went wrong. It is the one place such replies are taken apart, so that
// callers compare codes instead of matching an error's text.
package rediserr

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Codes Redis itself answers with.
const (
	// NoGroup: the stream or its consumer group does not exist (XREADGROUP,
	// XPENDING, XACK...), as after a Redis that lost its data.
	NoGroup = "NOGROUP"
	// BusyGroup: XGROUP CREATE of a group that exists already.
	BusyGroup = "BUSYGROUP"
	// NoScript: EVALSHA of a script the server has not cached (first use,
	// restart); nothing ran.
	NoScript = "NOSCRIPT"
)

// Codes of a Redis that refuses a command for now: the same command may
// succeed later (ticket.Unavailable).
const (
	OOM         = "OOM"         // used memory above maxmemory
	Loading     = "LOADING"     // loading the dataset at start
	ReadOnly    = "READONLY"    // a replica (after a failover)
	MasterDown  = "MASTERDOWN"  // a replica that lost its master
	ClusterDown = "CLUSTERDOWN" // a cluster without all its slots
	TryAgain    = "TRYAGAIN"    // a cluster moving the keys' slot
	Busy        = "BUSY"        // a script running too long
	NoReplicas  = "NOREPLICAS"  // min-replicas-to-write not met
	Misconf     = "MISCONF"     // a failed background save (stop-writes-on-bgsave-error)
	NoRepl      = "NOREPL"      // WAIT-style replication not reached
)

// Code splits the Redis error reply in err's chain into its code and the
// text after it ("NOTICKET SD-4" is "NOTICKET", "SD-4"). ok is false when
// err holds no error reply: nil, a network failure, a context's end, an
// error of maildesk's own.
func Code(err error) (code, detail string, ok bool) {
	var re redis.Error
	// redis.Nil (no such key) is a reply of that type too, but not an error
	// Redis answered.
	if !errors.As(err, &re) || errors.Is(err, redis.Nil) {
		return "", "", false
	}
	code, detail, _ = strings.Cut(re.Error(), " ")
	return code, detail, true
}

// Is reports whether err holds a Redis error reply of code.
func Is(err error, code string) bool {
	c, _, ok := Code(err)
	return ok && c == code
}
