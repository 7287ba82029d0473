package ticket

import (
	"encoding/json"
	"sync"
)

// clockMemo keeps SLA clocks decoded, by their stored JSON: a ticket's
// clock changes a few times in its life, but the dashboard reads a
// thousand of them on every refresh of every screen, and decoding them was
// a third of its cost. Bounded: when full it starts again.
var clockMemo = struct {
	sync.Mutex
	m map[string]Clock
}{m: map[string]Clock{}}

// clockMemoSize is a few dashboards' worth of open tickets.
const clockMemoSize = 8192

// decodeClock decodes a stored clock; false when it is unreadable.
func decodeClock(raw string) (Clock, bool) {
	clockMemo.Lock()
	c, ok := clockMemo.m[raw]
	clockMemo.Unlock()
	if ok {
		return c, true
	}
	if json.Unmarshal([]byte(raw), &c) != nil {
		return Clock{}, false
	}
	clockMemo.Lock()
	if len(clockMemo.m) >= clockMemoSize {
		clear(clockMemo.m)
	}
	clockMemo.m[raw] = c
	clockMemo.Unlock()
	return c, true
}
