package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// What every API route shares: refusals with their status, query and body
// checks, and JSON answers (errors as {"error": ...}).

// apiError is a refusal with its own status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// onlyParams refuses query parameters other than allowed: a misspelt
// filter must not silently list everything.
func onlyParams(q map[string][]string, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badRequest("unknown query parameter %q (this path takes none)", k)
			}
			return badRequest("unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// decodeJSON reads r's body, one JSON object of at most MaxBody bytes
// with only the fields of v, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	// A JSON content type also keeps plain HTML forms of other sites out.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "the body must be JSON sent as Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return badRequest("the body must be a single JSON object")
		}
		return nil
	}
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBody)}
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty: want a JSON object")
	case errors.As(err, &syntax):
		return badRequest("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return badRequest("field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return badRequest("the body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for DisallowUnknownFields:
		// its message is the only mark (the one text match left).
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body ends in the middle of the JSON")
	}
	return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "ptr":
		return "a string or null"
	}
	return kind
}

// statusOf is the HTTP status for an error of the packages the API calls.
func statusOf(err error) int {
	var ae *apiError
	var ps config.Problems
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.Is(err, ticket.ErrNotFound), errors.Is(err, workflow.ErrNotFound), errors.Is(err, authz.ErrNotFound), errors.Is(err, notify.ErrUnknownEntry):
		return http.StatusNotFound
	case errors.Is(err, workflow.ErrInvalid), errors.As(err, &ps):
		return http.StatusBadRequest
	case errors.Is(err, workflow.ErrRefused):
		return http.StatusForbidden
	case errors.Is(err, workflow.ErrKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, workflow.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ticket.ErrConflict), errors.Is(err, authz.ErrNoDirectory),
		errors.Is(err, notify.ErrAmbiguousEntry), errors.Is(err, notify.ErrAlreadyDelivered),
		errors.Is(err, notify.ErrBeingSent), errors.Is(err, notify.ErrSuppressedTo), errors.Is(err, notify.ErrUnreadableEntry):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// fail answers r with err as {"error": ...}. Internal errors are logged
// and not shown: they may say more about the installation than agents
// need.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		a.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, status, "internal error; the daemon's log has the details")
		return
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "60")
	}
	var ps config.Problems
	if errors.As(err, &ps) {
		list := make([]string, 0, len(ps))
		for _, p := range ps {
			list = append(list, p.Reason)
		}
		_ = writeJSON(w, status, map[string]any{"error": "not changed: " + strings.Join(list, "; "), "problems": list})
		return
	}
	writeError(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	_ = writeJSON(w, status, map[string]string{"error": msg})
}
