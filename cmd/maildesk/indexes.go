package main

import (
	"context"
	"time"
)

// buildIndexes puts the tickets of a desk upgraded from a version without
// ticket indexes into them, in the background: lists read every ticket
// until it is done, as they did before. It resumes where it stopped after a
// restart, and replicas doing it at once do no harm. Once built, the
// scripts that change tickets keep the indexes; `maildesk tickets check`
// finds and mends drift.
func (d *daemon) buildIndexes(ctx context.Context) {
	start := time.Now()
	logged := start
	err := d.store.EnsureIndexes(ctx, func(done int) {
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			d.log.Info("building the ticket indexes", "tickets", done)
		}
		if done == 500 {
			d.log.Info("building the ticket indexes of the tickets made before them; lists read every ticket until done")
		}
	})
	switch {
	case err != nil && ctx.Err() == nil:
		d.log.Error("building the ticket indexes failed; lists read every ticket until a restart builds them", "err", err)
	case err == nil && time.Since(start) > time.Second:
		d.log.Info("ticket indexes built", "took", time.Since(start).Round(time.Millisecond))
	}
}
