package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
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
			Handler(tt.checks).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
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
	Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz %d", rec.Code)
	}
}
