package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// The request log of the API and the pages (LogRequests).

// requestInfo is what inner handlers tell LogRequests about a request.
type requestInfo struct {
	agent       string
	authFailure string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// LogRequests logs each request handled by next: method, path, status,
// the agent (the token's name, set by RequireToken inside next) and the
// duration. Changes and failures are logged at info level and up,
// successful reads at debug level. Credentials and query strings are never
// logged.
func LogRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status >= 400:
			level = slog.LevelWarn
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", loggedPath(r.URL.Path)), slog.Int("status", rec.status),
			slog.String("agent", info.agent), slog.Duration("took", time.Since(start)),
		}
		if info.authFailure != "" {
			attrs = append(attrs, slog.String("auth", info.authFailure), slog.String("remote", r.RemoteAddr))
		}
		log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
