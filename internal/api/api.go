// Package api is the JSON API v1 (docs: API.md, served as OpenAPI 3.1 at
// /api/v1/openapi.json). Handlers decode and validate the request, call the
// service, and encode its answer; they never decide who may see what.
package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// Options tune the API.
type Options struct {
	// MaxBody is the largest request body accepted, in bytes. It must leave
	// room for a memo body of the configured size plus its JSON escaping.
	MaxBody int64
	Log     *slog.Logger
}

type handler struct {
	svc *service.Service
	opt Options
}

// route is one endpoint: registered on the mux and described in OpenAPI
// from this same table, so the two cannot drift apart.
type route struct {
	method, path string
	summary      string
	auth         bool
	request      any // a value of the request body type, or nil
	// large: the request carries a memo's text (a body, a comment, a
	// meeting's notes), up to Options.MaxBody; every other request is
	// held to smallBody.
	large    bool
	response any // a value of the success body type, or nil
	// contentType is the success body's type when response is nil and
	// it is not text/plain.
	contentType string
	status      int // success status
	query       []param
	handle      func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor)
}

type param struct {
	name, desc string
	required   bool
	integer    bool
}

// Register adds the API's routes to mux.
func Register(mux *http.ServeMux, svc *service.Service, opt Options) {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 3 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	h := &handler{svc: svc, opt: opt}
	for _, rt := range routes() {
		mux.Handle(rt.method+" "+rt.path, h.wrap(rt))
	}
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, OpenAPI())
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, r, http.StatusNotFound, "not found", nil)
	})
}

func (h *handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var a *service.Actor
		if rt.auth {
			token, ok := Bearer(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dissent"`)
				problem(w, r, http.StatusUnauthorized, "sign in first", nil)
				return
			}
			var err error
			if a, err = h.svc.Authenticate(r.Context(), token); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dissent"`)
				h.fail(w, r, err)
				return
			}
		}
		if rt.request != nil {
			limit := int64(smallBody)
			if rt.large {
				limit = h.opt.MaxBody
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		} else if !noBody(w, r) {
			return
		}
		rt.handle(h, w, r, a)
	})
}

// Bearer returns the token of r's "Authorization: Bearer" header.
func Bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// noBody refuses a body on a route that takes none, which would otherwise
// be ignored whatever it held: a client that sent fields there learns
// that they were not read. No body, or an empty JSON object, is accepted.
func noBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEmptyBody+1))
	if err != nil {
		problem(w, r, http.StatusBadRequest, "the request body could not be read", nil)
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 || len(body) <= maxEmptyBody && DecodeStrict(body, &struct{}{}) == nil {
		return true
	}
	problem(w, r, http.StatusBadRequest, "this request takes no body (or an empty JSON object)", nil)
	return false
}

// maxEmptyBody bounds what noBody reads of a body that should be empty.
const maxEmptyBody = 1 << 10

// smallBody bounds the body of a request that carries no memo text: names,
// a password, a reason (channel.MaxReason characters, each up to six bytes
// escaped), a revision.
const smallBody = 64 << 10

// maxValues bounds the values a request body's arrays and objects hold in
// all (its commas outside strings). Decoding a value costs several times
// its bytes: a body of a few megabytes of one-letter names would take a
// hundred megabytes to decode, and no request needs more than a few
// hundred values (channel.MaxUsernames names at most).
const maxValues = 4096

// decode reads one JSON object into v: the body must be application/json,
// valid UTF-8, within the size limit, with no unknown fields and nothing
// after the object.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			problem(w, r, http.StatusUnsupportedMediaType, "send application/json", nil)
			return false
		}
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		problem(w, r, http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes", nil)
		return false
	} else if err != nil {
		problem(w, r, http.StatusBadRequest, "the request body could not be read", nil)
		return false
	}
	if err := DecodeStrict(body, v); err != nil {
		problem(w, r, http.StatusBadRequest, err.Error(), nil)
		return false
	}
	return true
}

// DecodeStrict decodes exactly one JSON object from body into v, refusing
// invalid UTF-8, unknown fields and trailing data. Its errors are written for
// the client and quote nothing from the body but a field name.
func DecodeStrict(body []byte, v any) error {
	if !utf8.Valid(body) {
		return errors.New("the request body is not valid UTF-8")
	}
	if commasOutsideStrings(body) >= maxValues {
		return errors.New("the request body holds more than " + strconv.Itoa(maxValues) + " values")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("the request body is empty: send a JSON object")
		case errors.As(err, &syn):
			return errors.New("the request body is not valid JSON (at byte " + strconv.FormatInt(syn.Offset, 10) + ")")
		case errors.As(err, &typ):
			return errors.New("field " + strconv.Quote(typ.Field) + " has the wrong type")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return errors.New("unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return errors.New("the request body is not valid JSON")
	}
	if dec.More() {
		return errors.New("the request body has data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the request body has data after the JSON object")
	}
	// encoding/json takes null for "no fields", matches names without
	// regard to case and lets a repeated name win: walk the body again
	// (already known to be valid JSON of bounded depth) to refuse all three.
	keys := json.NewDecoder(strings.NewReader(string(body)))
	if tok, _ := keys.Token(); tok != json.Delim('{') {
		return errors.New("the request body must be a JSON object")
	}
	return checkNames(keys, reflect.TypeOf(v))
}

// commasOutsideStrings counts the commas of body that are not in a JSON
// string: one fewer than the values of its arrays and members of its
// objects, for a body that is valid JSON; what it counts in one that is
// not does not matter, as decoding refuses it.
func commasOutsideStrings(body []byte) int {
	n := 0
	inString, escaped := false, false
	for _, b := range body {
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case !inString && b == ',':
			n++
		}
	}
	return n
}

// checkNames reads the rest of an object whose '{' was just read, refusing
// a name given twice and, where t is a struct, a name that is not exactly
// one of its fields' JSON names.
func checkNames(dec *json.Decoder, t reflect.Type) error {
	fields := jsonFields(t)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("the request body is not valid JSON")
		}
		name, _ := tok.(string)
		if seen[name] {
			return errors.New("field " + strconv.Quote(name) + " appears twice")
		}
		seen[name] = true
		ft, ok := fields[name]
		if fields != nil && !ok {
			return errors.New("unknown field " + strconv.Quote(name))
		}
		if err := checkValue(dec, ft); err != nil {
			return err
		}
	}
	_, _ = dec.Token() // '}'
	return nil
}

// jsonFields maps the JSON names of struct t's fields to their types, or
// returns nil when t is not a struct that encoding/json fills field by field.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "":
			maps.Copy(fields, jsonFields(f.Type)) // promoted, as encoding/json does
		default:
			fields[cmp.Or(name, f.Name)] = f.Type
		}
	}
	return fields
}

// checkValue reads one value, checking the names of the objects within.
func checkValue(dec *json.Decoder, t reflect.Type) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("the request body is not valid JSON")
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		return checkNames(dec, t)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkValue(dec, elem); err != nil {
				return err
			}
		}
		_, _ = dec.Token() // ']'
	}
	return nil
}

var statusOf = map[string]int{
	channel.EMALFORMED:    http.StatusBadRequest,
	channel.EUNAUTHORIZED: http.StatusUnauthorized,
	channel.EFORBIDDEN:    http.StatusForbidden,
	channel.ENOTFOUND:     http.StatusNotFound,
	channel.ECONFLICT:     http.StatusConflict,
	channel.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	channel.EINVALID:      http.StatusUnprocessableEntity,
	channel.ERATELIMIT:    http.StatusTooManyRequests,
	channel.EUNAVAILABLE:  http.StatusServiceUnavailable,
	channel.EINTERNAL:     http.StatusInternalServerError,
}

// StatusOf maps an error to its HTTP status.
func StatusOf(err error) int {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return statusOf[channel.ErrorCode(err)]
}

// fail answers err as a problem; internal errors are logged and shown only
// as "internal error".
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		h.opt.Log.Error("request failed", "method", r.Method, "route", r.Pattern, "error", err)
	}
	var fields []channel.FieldError
	var ce *channel.Error
	if errors.As(err, &ce) {
		fields = ce.Fields
	}
	if n := channel.RetryAfterSeconds(err); n > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(n))
	}
	problem(w, r, status, channel.ErrorMessage(err), fields)
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Errors []channel.FieldError `json:"errors,omitempty"`
}

func problem(w http.ResponseWriter, r *http.Request, status int, detail string, fields []channel.FieldError) {
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
	writeBody(w, status, "application/problem+json", p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json", v)
}

// bodies are the buffers responses are encoded into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeBody writes v as JSON, with a newline, and says its length: net/http
// then sends a memo (~12 KB) as it is, rather than in chunks copied from a
// second buffer.
func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	b := bodies.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledBody {
			bodies.Put(b)
		}
	}()
	b.Reset()
	if err := json.NewEncoder(b).Encode(v); err != nil {
		http.Error(w, `{"title":"internal error"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// maxPooledBody is the largest buffer kept for the next response; a rare
// large one (an export page) is left to the collector.
const maxPooledBody = 256 << 10

// reply writes v or the error.
func (h *handler) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// limit reads ?limit= (default 50, at most 200).
func limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		return 0, channel.Invalid("limit", "limit must be a number from 1 to 200")
	}
	return n, nil
}

func intParam(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return 0, &channel.Error{Code: channel.EMALFORMED, Message: name + " must be a whole number", Fields: []channel.FieldError{{Field: name, Message: "must be a whole number"}}}
	}
	return n, nil
}

// Health serves /healthz and /readyz.
func Health(mux *http.ServeMux, svc *service.Service) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := svc.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			msg := "database unreachable\n"
			if channel.ErrorCode(err) == channel.EUNAVAILABLE {
				msg = channel.ErrorMessage(err) + "\n"
			}
			_, _ = io.WriteString(w, msg)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}
