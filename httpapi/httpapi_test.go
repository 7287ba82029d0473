package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
		code   int
	}{
		{"all ok", []Check{{"redis", func(context.Context) (any, error) { return nil, nil }}}, 200},
		{"one down", []Check{
			{"redis", func(context.Context) (any, error) { return nil, nil }},
			{"imap", func(context.Context) (any, error) { return "disconnected", errors.New("dial tcp: refused") }},
		}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tt.checks, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.code {
				t.Fatalf("code %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			var body struct {
				Ready  bool                      `json:"ready"`
				Checks map[string]map[string]any `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Ready != (tt.code == 200) || len(body.Checks) != len(tt.checks) {
				t.Fatalf("body %+v", body)
			}
		})
	}
	rec := httptest.NewRecorder()
	Handler(nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz %d", rec.Code)
	}
}

func TestMetrics(t *testing.T) {
	m := NewMetrics("acme-it")
	m.Mail("rejected", "new", "human", true, 0)
	m.Mail("processed", "new", "human", false, 3*time.Millisecond)
	m.Reconnected()
	rec := httptest.NewRecorder()
	Handler(nil, m).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`maildesk_mails_total{class="human",desk="acme-it",kind="new",outcome="processed"} 1`,
		`maildesk_authentication_failures_total{desk="acme-it"} 1`,
		`maildesk_imap_reconnects_total{desk="acme-it"} 1`,
		`maildesk_mail_processing_seconds_count{desk="acme-it"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
