package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review69Doc is the OpenAPI document as the server serves it.
type review69Doc struct {
	raw     map[string]any
	schemas map[string]any
}

func review69OpenAPI(t *testing.T, e *env) review69Doc {
	t.Helper()
	r := e.must(http.StatusOK, "", "GET", "/api/v1/openapi.json", nil)
	var d review69Doc
	if err := json.Unmarshal(r.body, &d.raw); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	comps, _ := d.raw["components"].(map[string]any)
	d.schemas, _ = comps["schemas"].(map[string]any)
	return d
}

// operation finds the operation that documents method and a concrete path
// (path parameters matched by pattern).
func (d review69Doc) operation(method, path string) (string, map[string]any) {
	path, _, _ = strings.Cut(path, "?")
	paths, _ := d.raw["paths"].(map[string]any)
	best, bestParams := "", -1
	for k := range paths {
		re := "^" + regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(regexp.QuoteMeta(k), `[^/]+`) + "$"
		if !regexp.MustCompile(re).MatchString(path) {
			continue
		}
		item, _ := paths[k].(map[string]any)
		if _, ok := item[strings.ToLower(method)].(map[string]any); !ok {
			continue
		}
		if n := strings.Count(k, "{"); bestParams < 0 || n < bestParams {
			best, bestParams = k, n
		}
	}
	if best == "" {
		return "", nil
	}
	op, _ := paths[best].(map[string]any)[strings.ToLower(method)].(map[string]any)
	return best, op
}

// responseSchema is the schema the document gives for status and content
// type, and whether it documents that pair at all.
func (d review69Doc) responseSchema(op map[string]any, status int, contentType string) (map[string]any, bool) {
	resps, _ := op["responses"].(map[string]any)
	resp, ok := resps[strconv.Itoa(status)].(map[string]any)
	if !ok {
		resp, ok = resps["default"].(map[string]any)
		if !ok {
			return nil, false
		}
	}
	content, _ := resp["content"].(map[string]any)
	mt, _, _ := mime.ParseMediaType(contentType)
	c, ok := content[mt].(map[string]any)
	if !ok {
		return nil, false
	}
	s, _ := c["schema"].(map[string]any)
	return s, true
}

// validate checks v against the JSON Schema subset the document uses:
// $ref, allOf, anyOf, oneOf, type (a name or a list), properties,
// additionalProperties, items, format date-time.
func (d review69Doc) validate(schema map[string]any, v any, at string) []string {
	if schema == nil {
		return nil
	}
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		s, _ := d.schemas[name].(map[string]any)
		if s == nil {
			return []string{at + ": dangling $ref " + ref}
		}
		return d.validate(s, v, at)
	}
	if all, ok := schema["allOf"].([]any); ok {
		var errs []string
		for _, s := range all {
			errs = append(errs, d.validate(s.(map[string]any), v, at)...)
		}
		if len(errs) > 0 {
			return errs
		}
	}
	if any_, ok := schema["anyOf"].([]any); ok {
		matched := false
		for _, alt := range any_ {
			if len(d.validate(alt.(map[string]any), v, at)) == 0 {
				matched = true
			}
		}
		if !matched {
			return []string{fmt.Sprintf("%s: %s matches none of anyOf %v", at, short(v), any_)}
		}
	}
	if one, ok := schema["oneOf"].([]any); ok {
		n := 0
		for _, alt := range one {
			if len(d.validate(alt.(map[string]any), v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			return []string{fmt.Sprintf("%s: %s matches %d of oneOf %v", at, short(v), n, one)}
		}
		return nil
	}
	if typ, ok := schema["type"]; ok {
		var types []string
		switch x := typ.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, y := range x {
				types = append(types, y.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return []string{fmt.Sprintf("%s: %s is %s, the document says %v", at, short(v), jsonType(v), types)}
		}
	}
	var errs []string
	switch x := v.(type) {
	case string:
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				errs = append(errs, at+": not a date-time: "+x)
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range x {
				errs = append(errs, d.validate(items, it, at+"["+strconv.Itoa(i)+"]")...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(ps, val, at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, at+": property "+strconv.Quote(k)+" is not in the document")
				}
			case map[string]any:
				errs = append(errs, d.validate(ap, val, at+"."+k)...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		b = append(b[:80], "…"...)
	}
	return string(b)
}

// check validates a reply against what the document says of its route.
func (d review69Doc) check(method, path string, r reply) []string {
	pattern, op := d.operation(method, path)
	if op == nil {
		return []string{fmt.Sprintf("%s %s: no operation in the document", method, path)}
	}
	ct := r.header.Get("Content-Type")
	if r.status == http.StatusNoContent {
		return nil
	}
	schema, ok := d.responseSchema(op, r.status, ct)
	if !ok {
		return []string{fmt.Sprintf("%s %s answered %d %s, which the document does not describe for it", method, pattern, r.status, ct)}
	}
	mt, _, _ := mime.ParseMediaType(ct)
	if !strings.HasSuffix(mt, "json") {
		return nil
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		return []string{fmt.Sprintf("%s %s: %v", method, pattern, err)}
	}
	return d.validate(schema, v, method+" "+pattern)
}

// TestReview69SignInRequestSchema: the OpenAPI document describes the body
// of POST /api/v1/sessions as {"token","expires_at","device"}, the sign-in
// *answer*, with additionalProperties false: schemaName trims "Request" and
// "Response", so signInRequest and signInResponse both become "SignIn" and
// the first one registered (the response) wins. A client generated from the
// document cannot send a username or password; what the document tells it
// to send is refused (400 unknown field).
func TestReview69SignInRequestSchema(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	d := review69OpenAPI(t, e)
	_, op := d.operation("POST", "/api/v1/sessions")
	if op == nil {
		t.Fatal("POST /api/v1/sessions is not documented")
	}
	rb, _ := op["requestBody"].(map[string]any)
	content, _ := rb["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	schema, _ := js["schema"].(map[string]any)
	if ref, ok := schema["$ref"].(string); ok {
		schema, _ = d.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	props, _ := schema["properties"].(map[string]any)
	for _, want := range []string{"username", "password"} {
		if _, ok := props[want]; !ok {
			names := make([]string, 0, len(props))
			for k := range props {
				names = append(names, k)
			}
			sort.Strings(names)
			t.Errorf("the documented sign-in request body has no %q: its properties are %v", want, names)
		}
	}
	// The body the document describes is what the handler refuses.
	if _, ok := props["token"]; ok {
		r := e.call("", "POST", "/api/v1/sessions", map[string]string{"token": "x", "expires_at": "2026-12-07T00:00:00Z"})
		if r.status == http.StatusBadRequest {
			t.Errorf("a sign-in body valid by the document is refused: %s", r)
		}
	}
}

// TestReview69NullFieldsMatchOpenAPI drives a memo from draft to reply (and,
// under the NRC profile, to an appeal) over HTTP and checks every answer
// against the schema the served OpenAPI document gives for its route and
// status. The document is generated by reflection and describes every Go
// pointer as its element type, never as nullable: a draft's "receipt",
// "deadlines" and "reply", an unsigned author's "signed_revision" and an
// undecided appeal's "decision" are sent as null where the document says
// object or integer. A client generated from, or validating against, the
// document rejects every memo answer before submission.
func TestReview69NullFieldsMatchOpenAPI(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	d := review69OpenAPI(t, e)
	e.user("office", false, "office")
	e.user("p1", false, "principal")
	e.user("aud", false, "auditor")
	e.distribute("p1")
	e.member("alice")
	e.member("bob")

	var problems []string
	do := func(want int, who, method, path string, body any) reply {
		t.Helper()
		r := e.must(want, who, method, path, body)
		problems = append(problems, d.check(method, path, r)...)
		return r
	}
	do(http.StatusOK, "alice", "GET", "/api/v1/me", nil)
	do(http.StatusOK, "alice", "GET", "/api/v1/users?q=bo", nil)
	do(http.StatusOK, "admin", "GET", "/api/v1/admin/distribution", nil)

	draft := decode[service.Memo](t, do(http.StatusCreated, "alice", "POST", "/api/v1/memos",
		service.MemoInput{Title: "Schema", Body: "Body.", Marking: "UNCLASSIFIED", Codrafters: []string{}}))
	do(http.StatusOK, "alice", "GET", memoPath(draft.ID), nil)
	do(http.StatusOK, "alice", "POST", memoPath(draft.ID, "signers"), map[string][]string{"usernames": {"bob"}})
	do(http.StatusCreated, "bob", "POST", memoPath(draft.ID, "signatures"), map[string]int{"revision": 1})
	do(http.StatusCreated, "alice", "POST", memoPath(draft.ID, "signatures"), map[string]int{"revision": 1})
	do(http.StatusOK, "alice", "GET", "/api/v1/memos?box=mine", nil)
	do(http.StatusCreated, "alice", "POST", memoPath(draft.ID, "submit"), map[string]int{"revision": 1})
	do(http.StatusOK, "office", "POST", memoPath(draft.ID, "acknowledge"), nil)
	do(http.StatusCreated, "office", "POST", memoPath(draft.ID, "meetings"), map[string]any{
		"held_at": "2026-06-01T10:00:00Z", "minutes": 30, "principal": "p1", "attendees": []string{"alice"}, "notes": "Met."})
	do(http.StatusOK, "office", "POST", memoPath(draft.ID, "reply"), map[string]string{"body": "Our reply."})
	do(http.StatusOK, "alice", "GET", memoPath(draft.ID), nil)
	do(http.StatusOK, "office", "GET", "/api/v1/memos?box=office", nil)
	do(http.StatusOK, "p1", "GET", "/api/v1/memos?box=distribution", nil)
	do(http.StatusOK, "alice", "GET", memoPath(draft.ID, "access"), nil)
	do(http.StatusOK, "alice", "GET", memoPath(draft.ID, "revisions"), nil)
	do(http.StatusOK, "aud", "GET", "/api/v1/stats?year="+strconv.Itoa(e.h.Clock.Now().Year()), nil)
	do(http.StatusOK, "aud", "GET", "/api/v1/ledger/status", nil)
	do(http.StatusOK, "alice", "GET", "/api/v1/ledger/proof?index=1", nil)
	do(http.StatusOK, "alice", "GET", "/api/v1/notifications", nil)
	do(http.StatusOK, "aud", "GET", "/api/v1/jobs", nil)
	do(http.StatusNotFound, "admin", "GET", memoPath(draft.ID), nil)

	// An appeal not decided yet (NRC profile).
	n, m := nrcReplied(t, storetest.OpenSQLite(t))
	r := n.must(http.StatusOK, "alice", "POST", memoPath(m.ID, "appeal"), map[string]string{"reason": "The 2011 data."})
	problems = append(problems, d.check("POST", memoPath(m.ID, "appeal"), r)...)

	for _, p := range problems {
		t.Error(p)
	}
}

// TestReview69ExportReceiptSchema: GET /api/v1/memos/{id}/export answers a
// bundle whose submission.receipt is the receipt object (bundle.Submission
// holds it as json.RawMessage), but the document describes it as "oneOf
// integer or string": openapi.go's schemaOf takes any type with a
// MarshalJSON method for a service.Count. A client validating the export
// against the document rejects every bundle of a submitted memo.
func TestReview69ExportReceiptSchema(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	d := review69OpenAPI(t, e)
	e.user("office", false, "office")
	e.member("alice")
	m := e.create("alice", "Export", "Body.")
	e.sign("alice", m.ID, 1)
	e.submit("alice", m.ID, 1)
	path := memoPath(m.ID, "export")
	r := e.must(http.StatusOK, "alice", "GET", path, nil)
	var b struct {
		Submission struct {
			Receipt json.RawMessage `json:"receipt"`
		} `json:"submission"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || !strings.HasPrefix(string(b.Submission.Receipt), "{") {
		t.Fatalf("the export's submission.receipt is not an object: %s", r)
	}
	for _, p := range d.check("GET", path, r) {
		t.Error(p)
	}
}

// TestReview69StatsCSVContentType: the document says GET /api/v1/stats/csv
// answers 200 text/plain (routes with no response type and status 200 are
// all described as text/plain), but the handler answers text/csv: a client
// that checks the media type against the document refuses the answer.
func TestReview69StatsCSVContentType(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	d := review69OpenAPI(t, e)
	e.user("aud", false, "auditor")
	path := "/api/v1/stats/csv?year=" + strconv.Itoa(e.h.Clock.Now().Year())
	r := e.must(http.StatusOK, "aud", "GET", path, nil)
	for _, p := range d.check("GET", path, r) {
		t.Error(p)
	}
}
