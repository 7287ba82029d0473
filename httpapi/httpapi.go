// Package httpapi serves maildesk's HTTP endpoints: /healthz (process
// alive), /readyz (Redis takes writes, mail comes in), /metrics
// (Prometheus) and the agent API under /api/v1 (api.go, behind bearer
// tokens: auth.go). It calls into other packages and holds no business
// rules.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness probe: nil when healthy. Detail is shown as is.
type Check struct {
	Name  string
	Check func(ctx context.Context) (detail any, err error)
}

// Mount is a handler served next to the probes, under Pattern (a
// ServeMux pattern such as "/api/v1/"); it does its own authentication.
type Mount struct {
	Pattern string
	Handler http.Handler
}

// Handler returns the HTTP handler; metrics may be nil. /healthz, /readyz
// and /metrics are unauthenticated (probes); mounts (the API, the
// dashboard) bring their own authentication (RequireToken).
func Handler(checks []Check, metrics *Metrics, mounts ...Mount) http.Handler {
	mux := http.NewServeMux()
	for _, m := range mounts {
		mux.Handle(m.Pattern, m.Handler)
	}
	if metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		type result struct {
			OK     bool   `json:"ok"`
			Error  string `json:"error,omitempty"`
			Detail any    `json:"detail,omitempty"`
		}
		// At once: a slow check (a stalled Redis) must not delay the
		// others' answers, nor the whole beyond its own deadline.
		res := make([]result, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				detail, err := c.Check(ctx)
				res[i] = result{OK: err == nil, Detail: detail}
				if err != nil {
					res[i].Error = err.Error()
				}
			})
		}
		wg.Wait()
		out := map[string]result{}
		ready := true
		for i, c := range checks {
			out[c.Name] = res[i]
			ready = ready && res[i].OK
		}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": out})
	})
	return mux
}
