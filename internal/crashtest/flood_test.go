package crashtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/vault"
)

// The flood runs against a real `dissent serve` (API and web pages on one
// address) with a small memo limit, so that "oversized" costs kilobytes,
// not megabytes, under the race detector.
const floodMaxBody = 64 << 10

// floodEnv is the deployment the flood runs against: who is signed in,
// and the memos the hostile side aims at.
type floodEnv struct {
	url, vkey string
	admin     *client // reads the ledger's leaves
	office    *client // the channel office: hostile office steps, and the final check
	m1, m2    *client // legitimate submitters
	m3        *client // a signed-in member who sends hostile requests
	// d3 is m3's draft and s3 m3's submitted memo: m3 and the office aim
	// hostile requests at them, which must change neither.
	d3, s3 string
	d3Text memoText

	mu    sync.Mutex
	legit []string // ids of m1's and m2's memos (the first, p1, made before the flood)
}

type memoText struct{ title, body, marking string }

// otherID is a memo of m1 or m2: m3 may not know it exists, and the office
// may do nothing to it that a hostile request asks for.
func (e *floodEnv) otherID(r *rand.Rand) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.legit[r.IntN(len(e.legit))]
}

// hreq is one hostile request and the kind of refusal it must get.
type hreq struct {
	name         string
	method, path string
	body         []byte
	ctype        string
	token        string // bearer token
	cookie       string // web session cookie
	header       map[string]string
	kind         answerKind
	// baseline is, for kind tolerated, the status the same request gets
	// without its hostile query.
	baseline int
}

type answerKind int

const (
	// apiRefusal: a 4xx with the API's problem JSON.
	apiRefusal answerKind = iota
	// webRefusal: a 4xx page (HTML), or JSON for the edit form's autosave.
	webRefusal
	// edgeRefusal: an unauthenticated or garbled request, redirects
	// followed: a 4xx, with the problem JSON if it ended in /api/.
	edgeRefusal
	// tolerated: junk in the query of a route that reads none (or a cursor
	// that decodes): answered exactly as without it, never 5xx.
	tolerated
)

func (k answerKind) String() string {
	return [...]string{"api", "web", "edge", "tolerated"}[k]
}

// problemDoc is the API's error shape (RFC 9457).
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// checkProblem reports what is wrong with an API refusal.
func checkProblem(resp *http.Response, body []byte) string {
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return fmt.Sprintf("status %d, want a 4xx", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Sprintf("status %d with Content-Type %q, want application/problem+json", resp.StatusCode, ct)
	}
	var p problemDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Sprintf("status %d, problem does not decode: %v (%.200s)", resp.StatusCode, err, body)
	}
	if p.Status != resp.StatusCode || p.Title == "" || p.Type == "" || p.Detail == "" {
		return fmt.Sprintf("status %d, problem %+v lacks type, title, detail or the status", resp.StatusCode, p)
	}
	return ""
}

// floodOutcome gathers what the hostile side saw.
type floodOutcome struct {
	mu       sync.Mutex
	sent     map[answerKind]int
	statuses map[int]int
	failures map[string][]string // case name: what went wrong (a few)
	failed   int
	// atDecoding counts the API refusals of a request's body (malformed,
	// too large, not JSON); atService those the service made (403, 404,
	// 409, 422, 429) of a signed-in request: hostile requests that got
	// past the door.
	atDecoding, atService int
}

func newOutcome() *floodOutcome {
	return &floodOutcome{sent: map[answerKind]int{}, statuses: map[int]int{}, failures: map[string][]string{}}
}

func (o *floodOutcome) record(kind answerKind, status int) {
	o.mu.Lock()
	o.sent[kind]++
	o.statuses[status]++
	o.mu.Unlock()
}

func (o *floodOutcome) fail(name, what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	if len(o.failures[name]) < 3 {
		o.failures[name] = append(o.failures[name], what)
	}
}

// send sends one hostile request and checks its answer.
func (o *floodOutcome) send(hc, follow *http.Client, base string, q hreq) {
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	req, err := http.NewRequest(q.method, base+q.path, body)
	if err != nil {
		o.fail(q.name, "bad test request: "+err.Error())
		return
	}
	if q.ctype != "" {
		req.Header.Set("Content-Type", q.ctype)
	}
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.cookie != "" {
		req.Header.Set("Cookie", "__Host-dissent="+q.cookie)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	c := hc
	if q.kind == edgeRefusal {
		c = follow
	}
	resp, err := c.Do(req)
	if err != nil {
		// The server may answer an oversized or unauthenticated upload
		// before reading it, and close the connection under the rest.
		if len(q.body) > 64<<10 {
			o.record(q.kind, 0)
			return
		}
		o.fail(q.name, "transport error: "+err.Error())
		return
	}
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	o.record(q.kind, resp.StatusCode)
	what := ""
	switch q.kind {
	case apiRefusal:
		if what = checkProblem(resp, rb); what == "" {
			o.tally(q, resp.StatusCode, rb)
		}
	case edgeRefusal:
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			what = fmt.Sprintf("status %d at %s, want a 4xx", resp.StatusCode, resp.Request.URL.Path)
		} else if strings.HasPrefix(resp.Request.URL.Path, "/api/") {
			what = checkProblem(resp, rb)
		}
	case webRefusal:
		ct := resp.Header.Get("Content-Type")
		switch {
		case resp.StatusCode < 400 || resp.StatusCode >= 500:
			what = fmt.Sprintf("status %d (Location %q), want a 4xx", resp.StatusCode, resp.Header.Get("Location"))
		case !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "application/json"):
			what = fmt.Sprintf("status %d with Content-Type %q, want a page", resp.StatusCode, ct)
		}
	case tolerated:
		if resp.StatusCode != q.baseline {
			what = fmt.Sprintf("status %d, but %d without the hostile query (%.200s)", resp.StatusCode, q.baseline, rb)
		}
	}
	if what != "" {
		o.fail(q.name, q.method+" "+truncate(q.path, 120)+": "+what)
	}
}

func (o *floodOutcome) tally(q hreq, status int, body []byte) {
	var p problemDoc
	_ = json.Unmarshal(body, &p)
	d := p.Detail
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case status == 413 || status == 415 || status == 400 && (strings.Contains(d, "request body") || strings.HasPrefix(d, "unknown field") || strings.HasPrefix(d, "field ")):
		o.atDecoding++
	case q.token != "" && (status == 403 || status == 404 || status == 409 || status == 422 || status == 429):
		o.atService++
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// edgeRequest is a request an attacker sends without getting far: no
// token or a forged one, wrong methods and paths, malformed and oversized
// bodies, path tricks.
func edgeRequest(r *rand.Rand, token string) hreq {
	bodies := [][]byte{
		[]byte(`{"title":`),
		[]byte(`{"title":"x","body":"y","marking":"UNCLASSIFIED","admin":true}`),
		[]byte(`{"title":123,"body":[],"marking":null}`),
		[]byte("{\"title\":\"\xff\xfe\",\"body\":\"b\",\"marking\":\"UNCLASSIFIED\"}"),
		[]byte(`{"title":"a\u0000b","body":"b","marking":"UNCLASSIFIED"}`),
		bytes.Repeat([]byte("A"), 3<<20),
		[]byte(`{"title":"x","body":"` + strings.Repeat("x", 2<<20) + `","marking":"UNCLASSIFIED"}`),
		[]byte(`[]`),
		[]byte(`{"title":"x","body":"y","marking":"UNCLASSIFIED"}{"again":1}`),
		[]byte(strings.Repeat("[", 100000)),
	}
	paths := []string{"/api/v1/memos", "/api/v1/memos/../../etc/passwd", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/submit",
		"/api/v1/memos/%00/signatures", "/api/v1/sessions", "/api/v1/users", "/api/v1/admin/distribution"}
	methods := []string{"POST", "PUT", "DELETE", "PATCH"}
	q := hreq{name: "edge", method: methods[r.IntN(len(methods))], path: paths[r.IntN(len(paths))], body: bodies[r.IntN(len(bodies))], kind: edgeRefusal, header: map[string]string{}}
	switch r.IntN(4) {
	case 0:
		q.token = token
	case 1:
		q.token = strings.Repeat("x", 43)
	case 2:
		q.header["Authorization"] = "Basic YWRtaW46YWRtaW4="
	}
	if r.IntN(3) > 0 {
		q.ctype = "application/json"
	} else {
		q.ctype = "text/xml"
	}
	return q
}

// maker makes one hostile request when it is sent (a memo id it names
// may be one submitted a moment ago).
type maker struct {
	name string
	make func(r *rand.Rand) hreq
	// once: sent in the first round only (the matrix of every body route
	// with every malformed body, which is most of the cases).
	once bool
}

const (
	jsonCT = "application/json"
	formCT = "application/x-www-form-urlencoded"
)

// malformedBodies are bodies every route that reads one refuses before the
// service sees it: not JSON, not an object, trailing data, unknown or
// repeated fields, invalid UTF-8, too deep, too many values, too large.
func malformedBodies() map[string][]byte {
	deepArrays := `{"zz":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	deepObjects := strings.Repeat(`{"a":`, 3000) + "1" + strings.Repeat("}", 3000)
	return map[string][]byte{
		"truncated":         []byte(`{"title":`),
		"empty":             {},
		"array":             []byte(`[]`),
		"null":              []byte(`null`),
		"string":            []byte(`"a string"`),
		"number":            []byte(`42`),
		"trailing object":   []byte(`{"reason":"x"}{"reason":"y"}`),
		"trailing garbage":  []byte(`{"revision":1} garbage`),
		"unknown field":     []byte(`{"zz_unknown":1}`),
		"field twice":       []byte(`{"zz":1,"zz":2}`),
		"invalid utf-8":     []byte("{\"reason\":\"\xff\xfe\xfd\"}"),
		"raw nul":           []byte("{\"a\x00\":1}"),
		"byte order mark":   []byte("\ufeff{\"reason\":\"x\"}"),
		"deep arrays":       []byte(deepArrays),
		"deep objects":      []byte(deepObjects),
		"many values":       []byte(`{"zz":[` + strings.Repeat(`1,`, 5000) + `1]}`),
		"huge number":       []byte(`{"zz":1e999999}`),
		"huge string":       []byte(`{"zz":"` + strings.Repeat("x", 3*floodMaxBody+64<<10) + `"}`),
		"huge non-json":     bytes.Repeat([]byte("A"), 3*floodMaxBody+64<<10),
		"single quote json": []byte(`{'reason':'x'}`),
	}
}

// apiMakers are the authenticated hostile API requests: by m3, a signed-in
// member, and by the office, each reaching body decoding or the service.
func apiMakers(e *floodEnv, baselines map[string]int) []maker {
	m3, off := e.m3.token, e.office.token
	var ms []maker
	add := func(name string, f func(r *rand.Rand) hreq) { ms = append(ms, maker{name: name, make: f}) }
	api := func(name, tok, method, path string, body any) {
		var b []byte
		switch v := body.(type) {
		case nil:
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			b, _ = json.Marshal(v)
		}
		add(name, func(*rand.Rand) hreq {
			return hreq{name: name, method: method, path: path, body: b, ctype: jsonCT, token: tok, kind: apiRefusal}
		})
	}
	// apiOther is a request naming one of m1's or m2's memos.
	apiOther := func(name, tok, method, sub string, body any) {
		var b []byte
		switch v := body.(type) {
		case nil:
		case json.RawMessage:
			b = v
		default:
			b, _ = json.Marshal(v)
		}
		add(name, func(r *rand.Rand) hreq {
			return hreq{name: name, method: method, path: "/api/v1/memos/" + e.otherID(r) + sub, body: b, ctype: jsonCT, token: tok, kind: apiRefusal}
		})
	}

	// Every route that reads a body, with every malformed body.
	type bodyRoute struct{ tok, method, path string }
	routes := []bodyRoute{
		{"", "POST", "/api/v1/sessions"},
		{m3, "PUT", "/api/v1/me/password"},
		{m3, "POST", "/api/v1/me/keys"},
		{m3, "POST", "/api/v1/users"},
		{m3, "PATCH", "/api/v1/users/m1"},
		{m3, "POST", "/api/v1/users/m1/password-reset"},
		{off, "POST", "/api/v1/office/key-confirmations/m3"},
		{m3, "PUT", "/api/v1/admin/distribution"},
		{m3, "POST", "/api/v1/memos"},
		{m3, "PUT", "/api/v1/memos/" + e.d3},
		{m3, "POST", "/api/v1/memos/" + e.d3 + "/signers"},
		{m3, "POST", "/api/v1/memos/" + e.d3 + "/signatures"},
		{m3, "POST", "/api/v1/memos/" + e.d3 + "/submit"},
		{m3, "POST", "/api/v1/memos/" + e.d3 + "/withdraw"},
		{off, "POST", "/api/v1/memos/" + e.s3 + "/return"},
		{off, "POST", "/api/v1/memos/" + e.s3 + "/distribution"},
		{off, "DELETE", "/api/v1/memos/" + e.s3 + "/distribution/m3"},
		{off, "POST", "/api/v1/memos/" + e.s3 + "/comments"},
		{off, "POST", "/api/v1/memos/" + e.s3 + "/meetings"},
		{off, "POST", "/api/v1/memos/" + e.s3 + "/reply"},
		{off, "POST", "/api/v1/ledger/cosignatures"},
		{m3, "POST", "/api/v1/notifications/read"},
	}
	bodies := malformedBodies()
	names := slices.Sorted(maps.Keys(bodies))
	for _, rt := range routes {
		for _, bn := range names {
			api("malformed body ("+bn+") "+rt.method+" "+routeName(rt.path, e), rt.tok, rt.method, rt.path, bodies[bn])
			ms[len(ms)-1].once = true
		}
		// Sent as something else than JSON.
		name := "not json " + rt.method + " " + routeName(rt.path, e)
		path, tok, method := rt.path, rt.tok, rt.method
		add(name, func(*rand.Rand) hreq {
			return hreq{name: name, method: method, path: path, body: []byte(`<reason>x</reason>`), ctype: "text/xml", token: tok, kind: apiRefusal}
		})
	}
	// The office's malformed bodies on m1's and m2's submitted memos too.
	for _, sub := range []string{"/return", "/distribution", "/comments", "/meetings", "/reply"} {
		for _, bn := range []string{"truncated", "unknown field", "invalid utf-8", "deep arrays", "many values", "huge string", "trailing object"} {
			apiOther("office malformed body ("+bn+") on a member's memo "+sub, off, "POST", sub, json.RawMessage(bodies[bn]))
		}
	}

	// Wrong types and field names the decoder refuses.
	api("wrong type title", m3, "POST", "/api/v1/memos", `{"title":123,"body":"b","marking":"UNCLASSIFIED"}`)
	api("wrong type codrafters", m3, "POST", "/api/v1/memos", `{"title":"t","body":"b","marking":"UNCLASSIFIED","codrafters":"m1"}`)
	api("wrong type body array", m3, "POST", "/api/v1/memos", `{"title":"t","body":["b"],"marking":"UNCLASSIFIED"}`)
	api("title in another case", m3, "POST", "/api/v1/memos", `{"Title":"t","body":"b","marking":"UNCLASSIFIED"}`)
	api("unknown field with a valid memo", m3, "POST", "/api/v1/memos", `{"title":"t","body":"b","marking":"UNCLASSIFIED","state":"submitted"}`)
	api("title twice", m3, "POST", "/api/v1/memos", `{"title":"t","title":"u","body":"b","marking":"UNCLASSIFIED"}`)
	api("revision as string", m3, "POST", "/api/v1/memos/"+e.d3+"/signatures", `{"revision":"1"}`)
	api("revision as float", m3, "POST", "/api/v1/memos/"+e.d3+"/signatures", `{"revision":1.5}`)
	api("revision overflows", m3, "POST", "/api/v1/memos/"+e.d3+"/submit", `{"revision":99999999999999999999999}`)
	api("revision twice", m3, "POST", "/api/v1/memos/"+e.d3+"/submit", `{"revision":1,"revision":1}`)
	api("Revision in another case", m3, "POST", "/api/v1/memos/"+e.d3+"/submit", `{"Revision":1}`)
	api("expected_revision as string", m3, "PUT", "/api/v1/memos/"+e.d3, `{"title":"t","body":"b","marking":"UNCLASSIFIED","expected_revision":"1"}`)
	api("usernames as string", m3, "POST", "/api/v1/memos/"+e.d3+"/signers", `{"usernames":"m1"}`)
	api("usernames of objects", m3, "POST", "/api/v1/memos/"+e.d3+"/signers", `{"usernames":[{"username":"m1"}]}`)
	api("reason as array", m3, "POST", "/api/v1/memos/"+e.d3+"/withdraw", `{"reason":["x"]}`)
	api("seq as string", m3, "POST", "/api/v1/notifications/read", `{"seq":"all"}`)
	api("held_at not a time", off, "POST", "/api/v1/memos/"+e.s3+"/meetings", `{"held_at":"yesterday","minutes":30,"principal":"m3","attendees":["m3"],"notes":"n"}`)
	api("roles as string", m3, "POST", "/api/v1/users", `{"username":"evil","display_name":"E","email":"e@example.test","password":"evil-password-1","roles":"admin","eligible":true}`)
	api("eligible as string", m3, "PATCH", "/api/v1/users/m3", `{"eligible":"yes"}`)

	// Bodies that decode, and that the service refuses: the rules.
	huge := strings.Repeat("x", floodMaxBody+1)
	api("memo with a NUL in the title", m3, "POST", "/api/v1/memos", map[string]any{"title": "a\x00b", "body": "b", "marking": "UNCLASSIFIED"})
	api("memo with a bidi override in the title", m3, "POST", "/api/v1/memos", map[string]any{"title": "a\u202eb", "body": "b", "marking": "UNCLASSIFIED"})
	api("memo with an empty title", m3, "POST", "/api/v1/memos", map[string]any{"title": "  ", "body": "b", "marking": "UNCLASSIFIED"})
	api("memo with a long title", m3, "POST", "/api/v1/memos", map[string]any{"title": strings.Repeat("t", 201), "body": "b", "marking": "UNCLASSIFIED"})
	api("memo with a blank body", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": " \n\t ", "marking": "UNCLASSIFIED"})
	api("memo over the body limit", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": huge, "marking": "UNCLASSIFIED"})
	api("memo with an unknown marking", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": "b", "marking": "TOP SECRET"})
	api("memo with no marking", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": "b"})
	api("memo with a bad co-drafter", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": "b", "marking": "UNCLASSIFIED", "codrafters": []string{"No Such Name"}})
	api("memo with 201 co-drafters", m3, "POST", "/api/v1/memos", map[string]any{"title": "t", "body": "b", "marking": "UNCLASSIFIED", "codrafters": manyNames(201)})
	api("edit with a stale revision", m3, "PUT", "/api/v1/memos/"+e.d3, map[string]any{"title": "hostile", "body": "hostile", "marking": "UNCLASSIFIED", "expected_revision": 9})
	api("edit with an unknown marking", m3, "PUT", "/api/v1/memos/"+e.d3, map[string]any{"title": "hostile", "body": "hostile", "marking": "TOP SECRET", "expected_revision": 1})
	api("edit over the body limit", m3, "PUT", "/api/v1/memos/"+e.d3, map[string]any{"title": "hostile", "body": huge, "marking": "UNCLASSIFIED", "expected_revision": 1})
	api("edit with a control character", m3, "PUT", "/api/v1/memos/"+e.d3, map[string]any{"title": "hostile\x07", "body": "hostile", "marking": "UNCLASSIFIED", "expected_revision": 1})
	api("sign a revision that is not the current one", m3, "POST", "/api/v1/memos/"+e.d3+"/signatures", map[string]int{"revision": 2})
	api("sign revision -1", m3, "POST", "/api/v1/memos/"+e.d3+"/signatures", map[string]int{"revision": -1})
	api("submit an unsigned draft", m3, "POST", "/api/v1/memos/"+e.d3+"/submit", map[string]int{"revision": 1})
	api("submit a revision that is not the current one", m3, "POST", "/api/v1/memos/"+e.d3+"/submit", map[string]int{"revision": 7})
	api("invite nobody", m3, "POST", "/api/v1/memos/"+e.d3+"/signers", map[string][]string{"usernames": {}})
	api("invite a bad name", m3, "POST", "/api/v1/memos/"+e.d3+"/signers", map[string][]string{"usernames": {"../m1"}})
	api("invite 201 signers", m3, "POST", "/api/v1/memos/"+e.d3+"/signers", map[string][]string{"usernames": manyNames(201)})
	api("withdraw without a reason", m3, "POST", "/api/v1/memos/"+e.d3+"/withdraw", map[string]string{"reason": ""})
	api("withdraw with a long reason", m3, "POST", "/api/v1/memos/"+e.d3+"/withdraw", map[string]string{"reason": strings.Repeat("r", 4001)})
	api("withdraw with a control character", m3, "POST", "/api/v1/memos/"+e.d3+"/withdraw", map[string]string{"reason": "r\x1b[2J"})
	api("sign in as nobody", "", "POST", "/api/v1/sessions", map[string]string{"username": "no-such-user", "password": "wrong-password-1"})
	api("sign in with a long name", "", "POST", "/api/v1/sessions", map[string]string{"username": strings.Repeat("u", 5000), "password": "wrong-password-1"})
	api("sign in with a forged device", "", "POST", "/api/v1/sessions", map[string]string{"username": "no-such-user", "password": "wrong-password-1", "device": strings.Repeat("d", 2000)})
	api("change password with a short new one", m3, "PUT", "/api/v1/me/password", map[string]string{"current_password": "m3-password-1", "new_password": "short"})
	api("new keys while holding keys", m3, "POST", "/api/v1/me/keys", map[string]string{"current_password": "m3-password-1", "new_password": "m3-password-2"})
	api("sign out with a body", m3, "DELETE", "/api/v1/sessions/current", `{"all":true}`)

	// A member's steps on other users' memos, and the office's steps.
	apiOther("read another's memo", m3, "GET", "", nil)
	apiOther("export another's memo", m3, "GET", "/export", nil)
	apiOther("revisions of another's memo", m3, "GET", "/revisions", nil)
	apiOther("access log of another's memo", m3, "GET", "/access", nil)
	apiOther("withheld of another's memo", m3, "GET", "/withheld", nil)
	apiOther("edit another's memo", m3, "PUT", "", map[string]any{"title": "hostile", "body": "hostile", "marking": "UNCLASSIFIED", "expected_revision": 1})
	apiOther("sign another's memo", m3, "POST", "/signatures", map[string]int{"revision": 1})
	apiOther("unsign another's memo", m3, "DELETE", "/signatures/me", nil)
	apiOther("submit another's memo", m3, "POST", "/submit", map[string]int{"revision": 1})
	apiOther("invite to another's memo", m3, "POST", "/signers", map[string][]string{"usernames": {"m3"}})
	apiOther("withdraw another's memo", m3, "POST", "/withdraw", map[string]string{"reason": "hostile"})
	apiOther("comment on another's memo", m3, "POST", "/comments", map[string]string{"body": "hostile"})
	apiOther("acknowledge another's memo (a member)", m3, "POST", "/acknowledge", nil)
	apiOther("return another's memo (a member)", m3, "POST", "/return", map[string]string{"reason": "hostile"})
	apiOther("reply to another's memo (a member)", m3, "POST", "/reply", map[string]string{"body": "hostile"})
	apiOther("close another's memo (a member)", m3, "POST", "/close", nil)
	apiOther("add readers to another's memo (a member)", m3, "POST", "/distribution", map[string]any{"usernames": []string{"m3"}, "reason": "hostile"})
	apiOther("office acknowledges with a body", off, "POST", "/acknowledge", map[string]bool{"force": true})
	apiOther("office closes with a body", off, "POST", "/close", map[string]bool{"force": true})
	apiOther("office returns without a reason", off, "POST", "/return", map[string]string{"reason": " "})
	apiOther("office returns with a long reason", off, "POST", "/return", map[string]string{"reason": strings.Repeat("r", 4001)})
	apiOther("office replies with nothing", off, "POST", "/reply", map[string]string{"body": ""})
	apiOther("office replies over the limit", off, "POST", "/reply", map[string]string{"body": huge})
	apiOther("office comments with nothing", off, "POST", "/comments", map[string]string{"body": "\n"})
	apiOther("office adds a non-principal", off, "POST", "/distribution", map[string]any{"usernames": []string{"m3"}, "reason": "hostile"})
	apiOther("office adds nobody", off, "POST", "/distribution", map[string]any{"usernames": []string{}, "reason": "hostile"})
	apiOther("office adds 201 readers", off, "POST", "/distribution", map[string]any{"usernames": manyNames(201), "reason": "hostile"})
	apiOther("office takes off a non-reader", off, "DELETE", "/distribution/no-such-user", map[string]string{"reason": "hostile"})
	apiOther("office records a bad meeting", off, "POST", "/meetings", map[string]any{"held_at": "2026-01-05T10:00:00Z", "minutes": -5, "principal": "no-such-user", "attendees": []string{"m3"}, "notes": "n"})
	apiOther("office signs a memo", off, "POST", "/signatures", map[string]int{"revision": 1})
	apiOther("office edits a memo", off, "PUT", "", map[string]any{"title": "hostile", "body": "hostile", "marking": "UNCLASSIFIED", "expected_revision": 1})
	apiOther("office withdraws a memo", off, "POST", "/withdraw", map[string]string{"reason": "hostile"})
	api("member acknowledges own submitted memo", m3, "POST", "/api/v1/memos/"+e.s3+"/acknowledge", nil)
	api("member replies to own memo", m3, "POST", "/api/v1/memos/"+e.s3+"/reply", map[string]string{"body": "hostile"})
	api("member edits own submitted memo", m3, "PUT", "/api/v1/memos/"+e.s3, map[string]any{"title": "hostile", "body": "hostile", "marking": "UNCLASSIFIED", "expected_revision": 1})
	api("member submits own memo again", m3, "POST", "/api/v1/memos/"+e.s3+"/submit", map[string]int{"revision": 1})
	api("member signs own submitted memo", m3, "POST", "/api/v1/memos/"+e.s3+"/signatures", map[string]int{"revision": 1})
	api("member unsigns own submitted memo", m3, "DELETE", "/api/v1/memos/"+e.s3+"/signatures/me", nil)

	// Roles: what m3 and the office may never do.
	api("member creates a user", m3, "POST", "/api/v1/users", map[string]any{"username": "evil", "display_name": "E", "email": "e@example.test", "password": "evil-password-1", "roles": []string{"admin"}, "eligible": true})
	api("member renames a user", m3, "PATCH", "/api/v1/users/m1", map[string]string{"display_name": "pwned"})
	api("member resets a password", m3, "POST", "/api/v1/users/m1/password-reset", map[string]string{"password": "pwned-password-1"})
	api("member sets the distribution", m3, "PUT", "/api/v1/admin/distribution", map[string][]string{"usernames": {"m3"}})
	api("member grants office", m3, "POST", "/api/v1/office/members/m3/grant", nil)
	api("member confirms keys", m3, "POST", "/api/v1/office/key-confirmations/m3", map[string]any{"fingerprint": "x", "principal": true})
	api("member publishes cosignatures", m3, "POST", "/api/v1/ledger/cosignatures", map[string]string{"checkpoint": "garbage"})
	api("office sets the distribution", off, "PUT", "/api/v1/admin/distribution", map[string][]string{"usernames": {"m3"}})
	api("office creates a user", off, "POST", "/api/v1/users", map[string]any{"username": "evil", "display_name": "E", "email": "e@example.test", "password": "evil-password-1", "roles": []string{"office"}, "eligible": true})
	api("office publishes cosignatures", off, "POST", "/api/v1/ledger/cosignatures", map[string]string{"checkpoint": "garbage\n\n— x y\n"})
	api("office grants office to nobody", off, "POST", "/api/v1/office/members/no-such-user/grant", nil)
	api("office grants office with a body", off, "POST", "/api/v1/office/members/m3/grant", `{"force":true}`)
	api("office confirms nobody's keys", off, "POST", "/api/v1/office/key-confirmations/no-such-user", map[string]any{"fingerprint": "x"})
	api("office confirms keys with a wrong fingerprint", off, "POST", "/api/v1/office/key-confirmations/m3", map[string]any{"fingerprint": "00:11", "principal": true})

	// Bad memo ids, by a member and by the office.
	for _, id := range []string{"%00", "x", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaa", "..%2F..%2Fetc%2Fpasswd",
		"%E2%80%AE", "%27%20OR%20%271%27%3D%271", strings.Repeat("z", 5000), "%FF%FE", e.d3 + "%00"} {
		for _, tok := range []string{m3, off} {
			who := "member"
			if tok == off {
				who = "office"
			}
			api("bad id GET ("+who+")", tok, "GET", "/api/v1/memos/"+id, nil)
			api("bad id export ("+who+")", tok, "GET", "/api/v1/memos/"+id+"/export", nil)
			api("bad id sign ("+who+")", tok, "POST", "/api/v1/memos/"+id+"/signatures", map[string]int{"revision": 1})
			api("bad id edit ("+who+")", tok, "PUT", "/api/v1/memos/"+id, map[string]any{"title": "t", "body": "b", "marking": "UNCLASSIFIED", "expected_revision": 1})
			api("bad id acknowledge ("+who+")", tok, "POST", "/api/v1/memos/"+id+"/acknowledge", nil)
			api("bad id access ("+who+")", tok, "GET", "/api/v1/memos/"+id+"/access?limit=5", nil)
		}
	}

	// Hostile query strings on every GET route that reads one.
	badLimits := []string{"0", "-1", "201", "abc", "1e2", "%00", "99999999999999999999999", "5%20", "0x10", "%FF"}
	badCursors := []string{"!!!", strings.Repeat("A", 201), "%FF%FE", "%00", "not%20base64", "e30%3D", "W10", url.QueryEscape(strings.Repeat("x", 4000))}
	for _, tok := range []string{m3, off} {
		who := "member"
		box := "mine"
		if tok == off {
			who, box = "office", "office"
		}
		for _, l := range badLimits {
			api("users limit ("+who+")", tok, "GET", "/api/v1/users?limit="+l, nil)
			api("memos limit ("+who+")", tok, "GET", "/api/v1/memos?box="+box+"&limit="+l, nil)
			api("notifications limit ("+who+")", tok, "GET", "/api/v1/notifications?limit="+l, nil)
			api("access limit ("+who+")", tok, "GET", "/api/v1/memos/"+e.s3+"/access?limit="+l, nil)
		}
		for _, c := range badCursors {
			api("users cursor ("+who+")", tok, "GET", "/api/v1/users?cursor="+c, nil)
			api("memos cursor ("+who+")", tok, "GET", "/api/v1/memos?box="+box+"&cursor="+c, nil)
			api("access cursor ("+who+")", tok, "GET", "/api/v1/memos/"+e.s3+"/access?cursor="+c, nil)
		}
		for _, q := range []string{"%00", "%FF", strings.Repeat("q", 101), "a%E2%80%AEb", "%0A"} {
			api("users q ("+who+")", tok, "GET", "/api/v1/users?q="+q, nil)
		}
		for _, b := range []string{"", "evil", "%00", "MINE", "mine%00", strings.Repeat("b", 3000)} {
			api("memos box ("+who+")", tok, "GET", "/api/v1/memos?box="+b, nil)
		}
		api("memos without box ("+who+")", tok, "GET", "/api/v1/memos", nil)
		for _, s := range []string{"bogus", "submitted,bogus", "%00", strings.Repeat("draft,", 2000) + "x"} {
			api("memos state ("+who+")", tok, "GET", "/api/v1/memos?box="+box+"&state="+s, nil)
		}
		for _, q := range []string{"", "index=abc", "index=-1", "index=99999999999", "index=1e3", "index=%00", "index=99999999999999999999999",
			"index=0&size=0", "index=0&size=-1", "index=0&size=abc", "index=0&size=999999999", "index=5&size=2", "size=3"} {
			api("proof query ("+who+")", tok, "GET", "/api/v1/ledger/proof?"+q, nil)
		}
		for _, q := range []string{"", "from=0&to=1", "from=3&to=2", "from=1&to=999999999", "from=abc&to=1", "from=1", "to=1", "from=-5&to=-1", "from=1&to=1e3"} {
			api("consistency query ("+who+")", tok, "GET", "/api/v1/ledger/consistency?"+q, nil)
		}
		for _, y := range []string{"", "year=abc", "year=99999999999999999999", "year=2026.5", "year=%00", "year=1e3", "year=abc&year=2026"} {
			api("stats query ("+who+")", tok, "GET", "/api/v1/stats?"+y, nil)
			api("stats csv query ("+who+")", tok, "GET", "/api/v1/stats/csv?"+y, nil)
		}
	}
	// Routes that read no query: junk in it changes nothing. A body on any
	// GET route is refused.
	junk := "?limit=abc&cursor=%FF%FE&box=evil&index=-1&year=abc&" + strings.Repeat("x=%00&", 2000) + "q=" + strings.Repeat("%FF", 1000)
	for _, g := range noQueryGets(e) {
		key := g.who + " " + g.path
		base, ok := baselines[key]
		if !ok {
			continue
		}
		tok := m3
		if g.who == "office" {
			tok = off
		}
		name := "junk query on " + g.who + " GET " + routeName(g.path, e)
		path := g.path
		kind := tolerated
		if base >= 400 {
			kind = apiRefusal
		}
		add(name, func(*rand.Rand) hreq {
			return hreq{name: name, method: "GET", path: path + junk, token: tok, kind: kind, baseline: base}
		})
	}
	for _, g := range allGets(e) {
		tok := m3
		if g.who == "office" {
			tok = off
		}
		api("GET with a body "+g.who+" "+routeName(g.path, e), tok, "GET", g.path, `{"box":"office","index":0}`)
	}
	return ms
}

type getRoute struct{ who, path string }

// noQueryGets are the GET routes that read no query string, as m3 or the
// office calls them (never a memo the office would read: that is a
// recorded read, not a refusal).
func noQueryGets(e *floodEnv) []getRoute {
	return []getRoute{
		{"member", "/api/v1/me"}, {"office", "/api/v1/me"},
		{"member", "/api/v1/office/key-confirmations"}, {"office", "/api/v1/office/key-confirmations"},
		{"member", "/api/v1/admin/distribution"}, {"office", "/api/v1/admin/distribution"},
		{"member", "/api/v1/ledger/status"}, {"office", "/api/v1/ledger/status"},
		{"member", "/api/v1/ledger/key"},
		{"member", "/api/v1/ledger/checkpoint"},
		{"member", "/api/v1/ledger/cosigned"},
		{"member", "/api/v1/notifications/unread"},
		{"member", "/api/v1/jobs"}, {"office", "/api/v1/jobs"},
		{"member", "/api/v1/memos/" + e.s3 + "/withheld"},
		{"office", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"office", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/export"},
		{"office", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/revisions"},
		{"office", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/withheld"},
	}
}

// allGets is every GET route of routes.go.
func allGets(e *floodEnv) []getRoute {
	g := []getRoute{
		{"member", "/api/v1/users"}, {"member", "/api/v1/memos?box=mine"}, {"office", "/api/v1/memos?box=office"},
		{"member", "/api/v1/memos/" + e.d3}, {"member", "/api/v1/memos/" + e.d3 + "/export"},
		{"member", "/api/v1/memos/" + e.d3 + "/revisions"}, {"member", "/api/v1/memos/" + e.d3 + "/access"},
		{"office", "/api/v1/memos/" + e.s3}, {"office", "/api/v1/memos/" + e.s3 + "/withheld"},
		{"member", "/api/v1/ledger/proof?index=0"}, {"member", "/api/v1/ledger/consistency?from=1&to=1"},
		{"office", "/api/v1/stats?year=2026"}, {"office", "/api/v1/stats/csv?year=2026"},
		{"member", "/api/v1/notifications"},
	}
	return append(g, noQueryGets(e)...)
}

// routeName names a path for a failure message without its memo ids.
func routeName(p string, e *floodEnv) string {
	p = strings.ReplaceAll(p, e.d3, "{d3}")
	return strings.ReplaceAll(p, e.s3, "{s3}")
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%03d", i)
	}
	return out
}

// webMakers are hostile form posts to the pages, signed in with the same
// sessions as cookies (the pages take the API's session tokens), and
// requests from another site.
func webMakers(e *floodEnv) []maker {
	m3, off := e.m3.token, e.office.token
	var ms []maker
	add := func(name, cookie, path string, form string, hdr map[string]string) {
		ms = append(ms, maker{name: name, make: func(*rand.Rand) hreq {
			return hreq{name: name, method: "POST", path: path, body: []byte(form), ctype: formCT, cookie: cookie, header: hdr, kind: webRefusal}
		}})
	}
	other := func(name, cookie, sub, form string, hdr map[string]string) {
		ms = append(ms, maker{name: name, make: func(r *rand.Rand) hreq {
			return hreq{name: name, method: "POST", path: "/memos/" + e.otherID(r) + sub, body: []byte(form), ctype: formCT, cookie: cookie, header: hdr, kind: webRefusal}
		}})
	}
	crossSite := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
	sameSite := map[string]string{"Origin": "https://intranet.example", "Sec-Fetch-Site": "same-site"}
	memo := func(title, body, marking string) string {
		return url.Values{"action": {"save"}, "title": {title}, "body": {body}, "marking": {marking}}.Encode()
	}
	overForm := strings.Repeat("x", 3*floodMaxBody+64<<10+1)
	overBody := strings.Repeat("x", floodMaxBody+1)

	add("web memo with an unknown marking", m3, "/memos/new", memo("t", "b", "TOP SECRET"), nil)
	add("web memo with no title", m3, "/memos/new", memo("", "b", "UNCLASSIFIED"), nil)
	add("web memo with a NUL title", m3, "/memos/new", memo("a\x00b", "b", "UNCLASSIFIED"), nil)
	add("web memo with invalid UTF-8", m3, "/memos/new", "action=save&title=%FF%FE&body=b&marking=UNCLASSIFIED", nil)
	add("web memo over the body limit", m3, "/memos/new", memo("t", overBody, "UNCLASSIFIED"), nil)
	add("web memo over the form limit", m3, "/memos/new", "action=save&title=t&marking=UNCLASSIFIED&body="+overForm, nil)
	add("web memo with bad escapes", m3, "/memos/new", "action=save&title=%zz&body=%&marking=UNCLASSIFIED", nil)
	add("web memo with many fields", m3, "/memos/new", strings.Repeat("a=1&", 12000)+memo("t", "b", "TOP SECRET"), nil)
	add("web memo with 60,000 co-drafters", m3, "/memos/new", memo("t", "b", "UNCLASSIFIED")+"&codrafters="+strings.Repeat("u0000,", 60000), nil)
	add("web memo sent as JSON", m3, "/memos/new", `{"title":"t","body":"b","marking":"UNCLASSIFIED"}`, map[string]string{"Content-Type": "application/json"})
	add("web memo from another site", m3, "/memos/new", memo("from another site", "b", "UNCLASSIFIED"), crossSite)
	add("web memo from a sibling site", m3, "/memos/new", memo("from a sibling site", "b", "UNCLASSIFIED"), sameSite)
	add("web edit with a stale revision", m3, "/memos/"+e.d3+"/edit", url.Values{"title": {"hostile"}, "body": {"hostile"}, "marking": {"UNCLASSIFIED"}, "expected_revision": {"9"}}.Encode(), nil)
	add("web autosave with a stale revision", m3, "/memos/"+e.d3+"/edit", url.Values{"title": {"hostile"}, "body": {"hostile"}, "marking": {"UNCLASSIFIED"}, "expected_revision": {"9"}, "autosave": {"1"}}.Encode(), nil)
	add("web edit with an unknown marking", m3, "/memos/"+e.d3+"/edit", url.Values{"title": {"hostile"}, "body": {"hostile"}, "marking": {"SECRET"}, "expected_revision": {"1"}}.Encode(), nil)
	add("web edit from another site", m3, "/memos/"+e.d3+"/edit", url.Values{"title": {"hostile"}, "body": {"hostile"}, "marking": {"UNCLASSIFIED"}, "expected_revision": {"1"}}.Encode(), crossSite)
	add("web sign revision abc", m3, "/memos/"+e.d3+"/sign", "revision=abc", nil)
	add("web sign a stale revision", m3, "/memos/"+e.d3+"/sign", "revision=7", nil)
	add("web sign from another site", m3, "/memos/"+e.d3+"/sign", "revision=1", crossSite)
	add("web submit an unsigned draft", m3, "/memos/"+e.d3+"/submit", "revision=1", nil)
	add("web withdraw without a reason", m3, "/memos/"+e.d3+"/withdraw", "reason=", nil)
	add("web withdraw from another site", m3, "/memos/"+e.d3+"/withdraw", "reason=hostile", crossSite)
	add("web invite a bad name", m3, "/memos/"+e.d3+"/signers", "usernames=Bad+Name", nil)
	add("web set the distribution (member)", m3, "/admin/distribution", "usernames=m3", nil)
	add("web create a user (member)", m3, "/admin/users/new", url.Values{"username": {"evil"}, "display_name": {"E"}, "email": {"e@example.test"}, "password": {"evil-password-1"}, "roles": {"admin"}}.Encode(), nil)
	add("web reset a password (member)", m3, "/admin/users/m1/password", "password=pwned-password-1", nil)
	add("web grant office (member)", m3, "/office/members/grant", "username=m3", nil)
	add("web self-check (member)", m3, "/audit/check", "", nil)
	add("web acknowledge own memo (member)", m3, "/memos/"+e.s3+"/acknowledge", "", nil)
	add("web bad id sign", m3, "/memos/%00/sign", "revision=1", nil)
	add("web bad id submit", m3, "/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/submit", "revision=1", nil)
	add("web bad id acknowledge", off, "/memos/"+strings.Repeat("z", 3000)+"/acknowledge", "", nil)
	other("web sign another's memo", m3, "/sign", "revision=1", nil)
	other("web submit another's memo", m3, "/submit", "revision=1", nil)
	other("web withdraw another's memo", m3, "/withdraw", "reason=hostile", nil)
	other("web edit another's memo", m3, "/edit", url.Values{"title": {"hostile"}, "body": {"hostile"}, "marking": {"UNCLASSIFIED"}, "expected_revision": {"1"}}.Encode(), nil)
	other("web comment on another's memo", m3, "/comment", "body=hostile", nil)
	other("web acknowledge another's memo (member)", m3, "/acknowledge", "", nil)
	other("web unsign another's memo", m3, "/unsign", "", nil)
	// The office's forms, with what the service refuses, or from elsewhere.
	for _, target := range []string{"s3", "other"} {
		o := func(name, sub, form string, hdr map[string]string) {
			if target == "s3" {
				add(name+" (s3)", off, "/memos/"+e.s3+sub, form, hdr)
			} else {
				other(name, off, sub, form, hdr)
			}
		}
		o("web office returns without a reason", "/return", "reason=+", nil)
		o("web office returns with a long reason", "/return", "reason="+strings.Repeat("r", 4001), nil)
		o("web office replies with nothing", "/reply", "action=send&body=", nil)
		o("web office replies over the limit", "/reply", "action=send&body="+overBody, nil)
		o("web office records a meeting on no date", "/meeting", "date=never&time=25:99&minutes=30&principal=m3&attendees=m3&notes=n", nil)
		o("web office records a meeting of bad minutes", "/meeting", "date=2026-01-05&time=10:00&minutes=abc&principal=m3&notes=n", nil)
		o("web office records a meeting with nobody", "/meeting", "date=2026-01-05&time=10:00&minutes=30&principal=no-such-user&attendees=m3&notes=n", nil)
		o("web office adds a non-principal", "/readers", "usernames=m3&reason=hostile", nil)
		o("web office adds a bad name", "/readers", "usernames=Bad+Name&reason=hostile", nil)
		o("web office takes off a non-reader", "/revoke", "username=no-such-user&reason=hostile", nil)
		o("web office comments with nothing", "/comment", "body=", nil)
		o("web office acknowledges from another site", "/acknowledge", "", crossSite)
		o("web office closes from another site", "/close", "", crossSite)
		o("web office replies from another site", "/reply", "action=send&body=hostile+reply", crossSite)
		o("web office returns from a sibling site", "/return", "reason=hostile", sameSite)
		o("web office returns with bad escapes", "/return", "reason=%zz%", nil)
	}
	add("web office grants office to nobody", off, "/office/members/grant", "username=no-such-user", nil)
	add("web office confirms nobody's keys", off, "/office/members/confirm-keys", "username=no-such-user&fingerprint=x", nil)
	add("web office sets the distribution", off, "/admin/distribution", "usernames=m3", nil)
	// The public forms.
	add("web sign in as nobody", "", "/sign-in", "username=no-such-user&password=wrong-password-1", nil)
	add("web sign in with invalid UTF-8", "", "/sign-in", "username=%FF%FE&password=%FF", nil)
	add("web sign in over the limit", "", "/sign-in", "username=x&password="+strings.Repeat("p", 17<<10), nil)
	add("web sign in with bad escapes", "", "/sign-in", "username=%zz&password=%", nil)
	add("web sign in from another site", "", "/sign-in", "username=m3&password=m3-password-1", crossSite)
	add("web language from another site", "", "/language", "lang=de&next=/", crossSite)
	return ms
}

// rawExchange writes head and then body over a fresh connection, a chunk
// of chunk bytes at a time with pause between chunks, and reads the answer.
func rawExchange(addr, head string, body []byte, chunk int, pause time.Duration) (*http.Response, []byte, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return nil, nil, err
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := conn.Write(body[:n]); err != nil {
			return nil, nil, err
		}
		body = body[n:]
		time.Sleep(pause)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b, nil
}

func head(method, path, host string, hdr map[string]string, contentLength int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, hdr[k])
	}
	if contentLength >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", contentLength)
	}
	b.WriteString("\r\n")
	return b.String()
}

// rawAttacks sends, over raw connections: slow bodies (a byte at a time)
// that must get their refusal, abandoned bodies (the client hangs up
// mid-body; some would be valid memos if finished) that must change
// nothing, stalled requests and idle connections held open for the whole
// flood, and a burst of connections with garbage request lines. It
// returns a function that closes the held connections.
func rawAttacks(t *testing.T, e *floodEnv, o *floodOutcome, done <-chan struct{}) (wait func()) {
	addr := strings.TrimPrefix(e.url, "http://")
	var wg sync.WaitGroup
	var held []net.Conn
	var heldMu sync.Mutex
	hold := func(c net.Conn) {
		heldMu.Lock()
		held = append(held, c)
		heldMu.Unlock()
	}
	bearer := map[string]string{"Authorization": "Bearer " + e.m3.token, "Content-Type": jsonCT}
	cookie := map[string]string{"Cookie": "__Host-dissent=" + e.m3.token, "Content-Type": formCT}
	officeCookie := map[string]string{"Cookie": "__Host-dissent=" + e.office.token, "Content-Type": formCT}

	// Slow bodies: complete, a byte at a time, and refused.
	type slow struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   string
		kind   answerKind
	}
	slows := []slow{
		{name: "slow API memo with an unknown marking", method: "POST", path: "/api/v1/memos", hdr: bearer, body: `{"title":"slow","body":"slow body","marking":"TOP SECRET"}`, kind: apiRefusal},
		{name: "slow API malformed memo", method: "POST", path: "/api/v1/memos", hdr: bearer, body: `{"title":"slow","body":"slow body","marking":"UNCLASSIFIED"`, kind: apiRefusal},
		{name: "slow API stale edit", method: "PUT", path: "/api/v1/memos/" + e.d3, hdr: bearer, body: `{"title":"slow","body":"slow","marking":"UNCLASSIFIED","expected_revision":5}`, kind: apiRefusal},
		{name: "slow API sign-in", method: "POST", path: "/api/v1/sessions", hdr: map[string]string{"Content-Type": jsonCT}, body: `{"username":"no-such-user","password":"wrong-password-1"}`, kind: apiRefusal},
		{name: "slow web memo with an unknown marking", method: "POST", path: "/memos/new", hdr: cookie, body: "action=save&title=slow&body=slow+body&marking=TOP+SECRET", kind: webRefusal},
		{name: "slow web return without a reason", method: "POST", path: "/memos/" + e.s3 + "/return", hdr: officeCookie, body: "reason=+", kind: webRefusal},
		{name: "slow web sign-in", method: "POST", path: "/sign-in", hdr: map[string]string{"Content-Type": formCT}, body: "username=no-such-user&password=wrong-password-1", kind: webRefusal},
	}
	for i, s := range slows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; ; round++ {
				select {
				case <-done:
					if round > 0 {
						return
					}
				default:
				}
				resp, body, err := rawExchange(addr, head(s.method, s.path, addr, s.hdr, len(s.body)), []byte(s.body), 1, time.Duration(2+i%3)*time.Millisecond)
				if err != nil {
					o.fail(s.name, "transport error: "+err.Error())
					return
				}
				o.record(s.kind, resp.StatusCode)
				what := ""
				if s.kind == apiRefusal {
					what = checkProblem(resp, body)
				} else if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					what = fmt.Sprintf("status %d, want a 4xx", resp.StatusCode)
				}
				if what != "" {
					o.fail(s.name, what)
				}
			}
		}()
	}

	// Abandoned bodies: the client says more than it sends, then hangs up
	// (or stays, stalled, until the flood is over). Finished, most would
	// be valid: a memo of m3's, an edit of d3, the office acknowledging s3.
	validMemo := `{"title":"ABANDONED","body":"must never be saved","marking":"UNCLASSIFIED"}`
	validEdit := `{"title":"ABANDONED","body":"must never be saved","marking":"UNCLASSIFIED","expected_revision":1}`
	validForm := "action=save&title=ABANDONED&body=must+never+be+saved&marking=UNCLASSIFIED"
	type abandon struct {
		path  string
		hdr   map[string]string
		sent  string
		claim int // the Content-Length claimed; -1: chunked, never ended
		stay  bool
	}
	chunkedBearer := map[string]string{"Authorization": "Bearer " + e.m3.token, "Content-Type": jsonCT, "Transfer-Encoding": "chunked"}
	abandons := []abandon{
		{"/api/v1/memos", bearer, validMemo, len(validMemo) + 1, false},
		{"/api/v1/memos", bearer, validMemo[:20], len(validMemo), false},
		{"/api/v1/memos", chunkedBearer, fmt.Sprintf("%x\r\n%s\r\n", len(validMemo), validMemo), -1, false},
		{"/api/v1/memos/" + e.d3, bearer, validEdit, len(validEdit) + 10, false},
		{"/memos/new", cookie, validForm, len(validForm) + 1, false},
		{"/memos/" + e.d3 + "/edit", cookie, "title=ABANDONED&body=x&marking=UNCLASSIFIED&expected_revision=1", 200, false},
		{"/api/v1/memos", bearer, validMemo, len(validMemo) + 1, true},
		{"/api/v1/memos", chunkedBearer, fmt.Sprintf("%x\r\n%s\r\n", len(validMemo), validMemo), -1, true},
		{"/memos/new", cookie, validForm, len(validForm) + 5, true},
		{"/memos/" + e.s3 + "/return", officeCookie, "reason=abandoned", 100, true},
	}
	var abandoned atomic.Int64
	for _, a := range abandons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 6; n++ {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					o.fail("abandoned body", "dial: "+err.Error())
					return
				}
				method := "POST"
				if strings.HasPrefix(a.path, "/api/v1/memos/") {
					method = "PUT"
				}
				if _, err := io.WriteString(conn, head(method, a.path, addr, a.hdr, a.claim)+a.sent); err != nil {
					o.fail("abandoned body", "write: "+err.Error())
				}
				abandoned.Add(1)
				if a.stay {
					hold(conn)
					break
				}
				time.Sleep(5 * time.Millisecond)
				conn.Close()
			}
		}()
	}

	// Held connections: idle ones, and ones whose request head never ends.
	for i := range 60 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Errorf("connection %d of the flood: %v", i, err)
			break
		}
		if i%2 == 1 {
			_, _ = io.WriteString(conn, "POST /api/v1/memos HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer "+e.m3.token+"\r\nX-Slow: ")
		}
		hold(conn)
	}
	// A burst of connections with garbage for a request: net/http refuses
	// them itself, with a 4xx. (A well-formed request line of an HTTP
	// version the server does not speak, "HTTP/9.9", gets net/http's 505
	// HTTP Version Not Supported, the status RFC 9110 §15.6.6 prescribes:
	// a refusal, though a 5xx, so it is not sent here.)
	garbage := []string{
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
		"GET /api/v1/me HTTP/1.x\r\nHost: x\r\n\r\n",
		"GET /api/v1/me\r\n\r\n",
		"GET /api/v1/memos/%zz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n",
		"POST /api/v1/memos HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: -5\r\n\r\n",
		"POST /api/v1/memos HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"POST /api/v1/memos HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
		"GET /api/v1/me HTTP/1.1\r\nHost: " + addr + "\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n",
		"GET /api/v1/me HTTP/1.1\r\nHost: " + addr + "\r\nBad Header Name: x\r\n\r\n",
		"GET /api/v1/me HTTP/1.1\r\n\r\n",
	}
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				o.fail("garbage request line", "dial: "+err.Error())
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
			g := garbage[i%len(garbage)]
			if _, err := io.WriteString(conn, g); err != nil {
				o.fail("garbage request", fmt.Sprintf("%.40q: write: %v", g, err))
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				// A TLS hello may get its bytes back unread.
				if i%len(garbage) == 0 {
					return
				}
				o.fail("garbage request", fmt.Sprintf("%.40q: no answer: %v", g, err))
				return
			}
			resp.Body.Close()
			o.record(edgeRefusal, resp.StatusCode)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				o.fail("garbage request", fmt.Sprintf("%.40q: status %d, want a 4xx", g, resp.StatusCode))
			}
		}()
	}
	return func() {
		wg.Wait()
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
		t.Logf("raw connections: %d slow bodies, %d abandoned bodies, %d connections held through the flood", len(slows), abandoned.Load(), len(held))
	}
}

// rawDo is a request whose answer body is kept as sent.
func (c *client) rawDo(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// legitSubmission is a memo submitted by its author and what came back.
type legitSubmission struct {
	author  *client
	user    string
	id      string
	text    memoText
	receipt []byte // the submit answer, as sent
}

// submitLegit drafts, signs and submits one memo, keeping the receipt as
// the server sent it.
func submitLegit(c *client, user string, n int) (*legitSubmission, error) {
	text := memoText{
		title:   fmt.Sprintf("%s memo %d under a flood", user, n),
		body:    strings.Repeat(fmt.Sprintf("Paragraph %d of %s's memo, sent while the API is flooded. ", n, user), 30),
		marking: "UNCLASSIFIED",
	}
	if n%2 == 1 {
		text.marking = "SENSITIVE BUT UNCLASSIFIED"
	}
	var m struct{ ID string }
	if code, err := c.do("POST", "/api/v1/memos", map[string]any{"title": text.title, "body": text.body, "marking": text.marking}, &m); code != 201 || err != nil {
		return nil, fmt.Errorf("create: %d %v", code, err)
	}
	if code, err := c.do("POST", "/api/v1/memos/"+m.ID+"/signatures", map[string]int{"revision": 1}, nil); code != 201 || err != nil {
		return &legitSubmission{id: m.ID}, fmt.Errorf("sign %s: %d %v", m.ID, code, err)
	}
	code, rc, err := c.rawDo("POST", "/api/v1/memos/"+m.ID+"/submit", []byte(`{"revision":1}`))
	if code != 201 || err != nil {
		return &legitSubmission{id: m.ID}, fmt.Errorf("submit %s: %d %v %s", m.ID, code, err, rc)
	}
	return &legitSubmission{author: c, user: user, id: m.ID, text: text, receipt: bytes.TrimSpace(rc)}, nil
}

// memoView is what the test reads of a memo.
type memoView struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Body        string `json:"body"`
	Marking     string `json:"marking"`
	State       string `json:"state"`
	Revision    int    `json:"revision"`
	ContentHash string `json:"content_hash"`
	Authors     []struct {
		Username string `json:"username"`
		Kind     string `json:"kind"`
	} `json:"authors"`
	Receipt      *json.RawMessage `json:"receipt"`
	Distribution []json.RawMessage
	Meetings     []json.RawMessage
	Reply        *json.RawMessage
	Comments     []json.RawMessage
	Reason       string
}

func listIDs(t *testing.T, c *client, box string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Next string `json:"next_cursor"`
		}
		path := "/api/v1/memos?limit=200&box=" + box
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if code, err := c.do("GET", path, nil, &page); code != 200 || err != nil {
			t.Fatalf("list %s: %d %v", box, code, err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	sort.Strings(ids)
	return ids
}

func ledgerSize(t *testing.T, admin *client) int64 {
	t.Helper()
	var st struct {
		Size int64 `json:"size"`
	}
	if code, err := admin.do("GET", "/api/v1/ledger/status", nil, &st); code != 200 || err != nil {
		t.Fatalf("ledger status: %d %v", code, err)
	}
	return st.Size
}

// TestFloodWhileSubmitting floods a real server with hostile requests
// while two members draft, sign and submit memos. The hostile side:
//
//   - unauthenticated and garbled API requests (forged tokens, wrong
//     methods and paths, oversized bodies);
//   - requests signed in as a member and as the office, so that they reach
//     body decoding and the service: every body route with every kind of
//     malformed body, wrong types, rule-breaking values, other users' memo
//     ids, bad ids, steps the role may not take, hostile query strings on
//     every GET route, and a body on every GET route;
//   - hostile form posts to the web pages (rule-breaking, oversized,
//     malformed, from another site), signed in with the same sessions;
//   - slow bodies, bodies abandoned mid-way (some valid if finished),
//     stalled and idle connections held through the flood, and a burst of
//     connections with garbage for a request.
//
// Every hostile answer must be a 4xx (the API's with its problem JSON),
// never a 2xx or a 5xx. Afterwards: every legitimate receipt verifies
// offline, each memo is submitted with the text sent, for its author and
// the office; the memos the hostile side aimed at are unchanged; no memo
// was made but the legitimate ones; the ledger grew only by the
// legitimate steps and the refusals it records; and the server is ready.
func TestFloodWhileSubmitting(t *testing.T) {
	data := setUp(t)
	f, err := os.OpenFile(filepath.Join(data, "dissent.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "\n[channel]\nmax_body = %d\n", floodMaxBody); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := start(t, data)
	defer srv.kill(t)
	vkey, err := os.ReadFile(filepath.Join(data, "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, srv.url, "admin", "admin-password-1")
	for _, u := range []string{"office", "m1", "m2", "m3"} {
		role := "member"
		if u == "office" {
			role = "office"
		}
		addUser(t, admin, u, []string{role})
	}
	foundOffice(t, srv.url, data, "office")
	e := &floodEnv{url: srv.url, vkey: string(bytes.TrimSpace(vkey)), admin: admin,
		office: signIn(t, srv.url, "office", "office-password-1"),
		m1:     signIn(t, srv.url, "m1", "m1-password-1"), m2: signIn(t, srv.url, "m2", "m2-password-1"), m3: signIn(t, srv.url, "m3", "m3-password-1")}

	// Before the flood: m1's first memo, m3's draft and m3's submitted memo.
	p1, err := submitLegit(e.m1, "m1", 0)
	if err != nil {
		t.Fatal(err)
	}
	e.legit = []string{p1.id}
	e.d3Text = memoText{"m3's draft", "A draft that hostile requests aim at.", "UNCLASSIFIED"}
	var d3 struct{ ID string }
	if code, err := e.m3.do("POST", "/api/v1/memos", map[string]any{"title": e.d3Text.title, "body": e.d3Text.body, "marking": e.d3Text.marking}, &d3); code != 201 || err != nil {
		t.Fatalf("m3's draft: %d %v", code, err)
	}
	e.d3 = d3.ID
	s3, err := submitLegit(e.m3, "m3", 0)
	if err != nil {
		t.Fatal(err)
	}
	e.s3 = s3.id
	s3View := readMemo(t, e.m3, e.s3)

	var distBefore json.RawMessage
	if code, err := admin.do("GET", "/api/v1/admin/distribution", nil, &distBefore); code != 200 || err != nil {
		t.Fatalf("distribution: %d %v", code, err)
	}
	var usersBefore struct{ Items []json.RawMessage }
	if code, err := admin.do("GET", "/api/v1/users?limit=200", nil, &usersBefore); code != 200 || err != nil {
		t.Fatalf("users: %d %v", code, err)
	}
	// What the routes that read no query answer without one.
	baselines := map[string]int{}
	for _, g := range noQueryGets(e) {
		c := e.m3
		if g.who == "office" {
			c = e.office
		}
		code, _, err := c.rawDo("GET", g.path, nil)
		if err != nil || code >= 500 {
			t.Fatalf("baseline %s %s: %d %v", g.who, g.path, code, err)
		}
		baselines[g.who+" "+g.path] = code
	}
	size0 := ledgerSize(t, admin)

	// The hostile requests: each case twice (the malformed-body matrix
	// once), shuffled, with edge requests among them.
	makers := append(apiMakers(e, baselines), webMakers(e)...)
	const rounds = 2
	r := rand.New(rand.NewPCG(1, 7))
	var jobs []func(r *rand.Rand) hreq
	for round := range rounds {
		for _, m := range makers {
			if round == 0 || !m.once {
				jobs = append(jobs, m.make)
			}
		}
	}
	for range 400 {
		jobs = append(jobs, func(r *rand.Rand) hreq { return edgeRequest(r, e.m1.token) })
	}
	r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	o := newOutcome()
	done := make(chan struct{})
	var legitWG, hostileWG sync.WaitGroup
	var mu sync.Mutex
	got := []*legitSubmission{p1}
	for _, lc := range []struct {
		c    *client
		user string
	}{{e.m1, "m1"}, {e.m2, "m2"}} {
		legitWG.Add(1)
		go func() {
			defer legitWG.Done()
			for i := 1; i <= 100; i++ {
				if i > 3 {
					select {
					case <-done:
						return
					default:
					}
				}
				s, err := submitLegit(lc.c, lc.user, i)
				if err != nil {
					t.Errorf("a legitimate submission of %s failed under the flood: %v", lc.user, err)
					return
				}
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
				e.mu.Lock()
				e.legit = append(e.legit, s.id)
				e.mu.Unlock()
			}
		}()
	}
	began := time.Now()
	jobc := make(chan func(r *rand.Rand) hreq)
	for w := range 6 {
		hostileWG.Add(1)
		go func() {
			defer hostileWG.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 4
			tr.DisableKeepAlives = w%3 == 2 // a new connection for every request
			hc := &http.Client{Transport: tr, Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			follow := &http.Client{Transport: tr, Timeout: 60 * time.Second}
			for mk := range jobc {
				o.send(hc, follow, e.url, mk(r))
			}
		}()
	}
	waitRaw := rawAttacks(t, e, o, done)
	for _, j := range jobs {
		jobc <- j
	}
	close(jobc)
	hostileWG.Wait()
	close(done)
	waitRaw()
	legitWG.Wait()
	t.Logf("the flood took %v", time.Since(began).Round(time.Millisecond))

	// Every hostile answer was a refusal.
	names := make([]string, 0, len(o.failures))
	for n := range o.failures {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Errorf("hostile %q: %s", n, strings.Join(o.failures[n], "; "))
	}
	codes := make([]int, 0, len(o.statuses))
	for c := range o.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var dist []string
	for _, c := range codes {
		dist = append(dist, fmt.Sprintf("%d×%d", c, o.statuses[c]))
	}
	t.Logf("hostile requests: %d API, %d web, %d edge, %d tolerated junk queries; %d cases; answers %s",
		o.sent[apiRefusal], o.sent[webRefusal], o.sent[edgeRefusal], o.sent[tolerated], len(makers), strings.Join(dist, " "))
	t.Logf("API refusals past the door: %d of a body at decoding, %d by the service", o.atDecoding, o.atService)
	// The flood is not all turned away by method, path or sign-in.
	if o.atDecoding < 400 || o.atService < 500 {
		t.Errorf("only %d hostile bodies reached decoding and %d signed-in requests the service: the flood no longer gets past the door", o.atDecoding, o.atService)
	}

	// The server is still healthy.
	if resp, err := http.Get(e.url + "/readyz"); err != nil {
		t.Errorf("readyz after the flood: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "ready" {
			t.Errorf("readyz after the flood: %d %s", resp.StatusCode, b)
		}
	}

	size1 := ledgerSize(t, admin)
	if len(got) < 3 {
		t.Fatalf("only %d legitimate submissions went through", len(got))
	}
	checkLedgerGrowth(t, e, got, size0, size1)
	checkLegit(t, e, got)
	checkUntouched(t, e, got, s3View, distBefore, len(usersBefore.Items))
	t.Logf("%d legitimate submissions during the flood, each checked; ledger %d → %d entries", len(got)-1, size0, size1)
}

func readMemo(t *testing.T, c *client, id string) memoView {
	t.Helper()
	var m memoView
	if code, err := c.do("GET", "/api/v1/memos/"+id, nil, &m); code != 200 || err != nil {
		t.Fatalf("memo %s: %d %v", id, code, err)
	}
	return m
}

// checkLedgerGrowth reads every entry the flood added: each is a step of a
// legitimate submission (its create, sign and submit, once each), a read
// (or the office's look at the readers withheld from) by the office or m3
// of a memo whose refused form page shows it again, or a failed sign-in.
func checkLedgerGrowth(t *testing.T, e *floodEnv, got []*legitSubmission, from, to int64) {
	t.Helper()
	legit := map[string]*legitSubmission{}
	for _, s := range got[1:] {
		legit[s.id] = s
	}
	steps := map[string]int{}
	counts := map[string]int{}
	for i := from; i < to; i++ {
		var p struct {
			Leaf string `json:"leaf"`
		}
		if code, err := e.admin.do("GET", fmt.Sprintf("/api/v1/ledger/proof?index=%d&size=%d", i, to), nil, &p); code != 200 || err != nil {
			t.Fatalf("ledger entry %d: %d %v", i, code, err)
		}
		l, err := ledger.DecodeLeaf([]byte(p.Leaf))
		if err != nil {
			t.Fatalf("ledger entry %d: %v", i, err)
		}
		counts[l.Action]++
		_, isLegit := legit[l.Memo]
		onOffice := isLegit || l.Memo == got[0].id || l.Memo == e.s3
		switch {
		case isLegit && (l.Action == "memo.create" || l.Action == "memo.sign" || l.Action == "memo.submit") && l.Role == ledger.RoleAuthor:
			steps[l.Memo+" "+l.Action]++
			if l.Action == "memo.submit" {
				var rc struct {
					Index int64 `json:"ledger_index"`
				}
				_ = json.Unmarshal(legit[l.Memo].receipt, &rc)
				if rc.Index != i {
					t.Errorf("the submission of %s is ledger entry %d; its receipt says %d", l.Memo, i, rc.Index)
				}
			}
		case l.Action == "memo.read" && l.Role == ledger.RoleOffice && onOffice:
		case l.Action == "memo.withheld_list" && l.Role == ledger.RoleOffice && onOffice:
			// The office's list of readers withheld from, looked at by
			// the readers page a refused form shows again, or asked for
			// with junk in its query.
		case l.Action == "memo.read" && l.Role == ledger.RoleAuthor && (l.Memo == e.d3 || l.Memo == e.s3):
		case l.Action == "session.fail" && l.Memo == "":
		default:
			t.Errorf("ledger entry %d was written during the flood and is no legitimate step nor a recorded refusal: %s", i, p.Leaf)
		}
	}
	for id := range legit {
		for _, a := range []string{"memo.create", "memo.sign", "memo.submit"} {
			if n := steps[id+" "+a]; n != 1 {
				t.Errorf("memo %s has %d %s entries in the ledger, want 1", id, n, a)
			}
		}
	}
	t.Logf("ledger entries written during the flood: %v", counts)
}

// checkLegit verifies every legitimate submission: its receipt offline,
// the memo for its author, and for the office.
func checkLegit(t *testing.T, e *floodEnv, got []*legitSubmission) {
	t.Helper()
	for _, s := range got {
		rep, err := bundle.VerifyReceipt(s.receipt, e.vkey)
		if err != nil {
			t.Errorf("the receipt of %s does not verify: %v\n%s", s.id, err, s.receipt)
			continue
		}
		hash := vault.ContentHash(s.text.title, s.text.body, s.text.marking)
		if rep.MemoID != s.id || rep.Revision != 1 || rep.ContentHash != fmt.Sprintf("%x", hash) {
			t.Errorf("the receipt of %s is of memo %s revision %d hash %s; want revision 1 of the text sent, %x", s.id, rep.MemoID, rep.Revision, rep.ContentHash, hash)
		}
		for _, who := range []struct {
			name string
			c    *client
		}{{s.user, s.author}, {"office", e.office}} {
			m := readMemo(t, who.c, s.id)
			var rc bundle.Receipt
			if m.Receipt != nil {
				_ = json.Unmarshal(*m.Receipt, &rc)
			}
			switch {
			case m.State != "submitted" || m.Revision != 1:
				t.Errorf("memo %s for %s: state %s revision %d, want submitted revision 1", s.id, who.name, m.State, m.Revision)
			case m.Title != s.text.title || m.Body != s.text.body || m.Marking != s.text.marking:
				t.Errorf("memo %s for %s: not the text sent (title %q)", s.id, who.name, m.Title)
			case m.ContentHash != rep.ContentHash || rc.LedgerIndex != rep.LedgerIndex || rc.ContentHash != rep.ContentHash:
				t.Errorf("memo %s for %s: content hash %s, receipt %+v; the receipt sent was of %s at %d", s.id, who.name, m.ContentHash, rc, rep.ContentHash, rep.LedgerIndex)
			case len(m.Authors) != 1 || m.Authors[0].Username != s.user:
				t.Errorf("memo %s for %s: authors %+v, want %s alone", s.id, who.name, m.Authors, s.user)
			case len(m.Meetings) != 0 || m.Reply != nil || len(m.Comments) != 0 || m.Reason != "":
				t.Errorf("memo %s for %s: meetings, a reply, comments or a reason appeared: %+v", s.id, who.name, m)
			}
		}
	}
}

// checkUntouched: the memos hostile requests aimed at are as they were,
// no memo was made but the legitimate ones, and no user or distribution
// changed.
func checkUntouched(t *testing.T, e *floodEnv, got []*legitSubmission, s3Before memoView, distBefore json.RawMessage, users int) {
	t.Helper()
	want := map[string][]string{"m1": nil, "m2": nil}
	office := []string{e.s3}
	for _, s := range got {
		want[s.user] = append(want[s.user], s.id)
		office = append(office, s.id)
	}
	for _, u := range []struct {
		name string
		c    *client
	}{{"m1", e.m1}, {"m2", e.m2}} {
		w := want[u.name]
		sort.Strings(w)
		if ids := listIDs(t, u.c, "mine"); !slices.Equal(ids, w) {
			t.Errorf("%s lists %d memos, want the %d submitted: %v", u.name, len(ids), len(w), ids)
		}
	}
	m3want := []string{e.d3, e.s3}
	sort.Strings(m3want)
	if ids := listIDs(t, e.m3, "mine"); !slices.Equal(ids, m3want) {
		t.Errorf("m3, who sent hostile requests, lists %v, want only its draft and memo %v", ids, m3want)
	}
	sort.Strings(office)
	if ids := listIDs(t, e.office, "office"); !slices.Equal(ids, office) {
		t.Errorf("the office lists %d memos, want %d", len(ids), len(office))
	}
	d3 := readMemo(t, e.m3, e.d3)
	if d3.State != "draft" || d3.Revision != 1 || d3.Title != e.d3Text.title || d3.Body != e.d3Text.body || d3.Marking != e.d3Text.marking || len(d3.Authors) != 1 {
		t.Errorf("m3's draft changed under hostile requests: %+v", d3)
	}
	s3 := readMemo(t, e.m3, e.s3)
	if s3.State != "submitted" || s3.Revision != 1 || s3.Title != s3Before.Title || s3.Body != s3Before.Body || s3.ContentHash != s3Before.ContentHash ||
		len(s3.Distribution) != len(s3Before.Distribution) || len(s3.Meetings) != 0 || s3.Reply != nil || len(s3.Comments) != 0 || s3.Reason != "" {
		t.Errorf("m3's submitted memo changed under hostile requests: %+v", s3)
	}
	var dist json.RawMessage
	if code, err := e.admin.do("GET", "/api/v1/admin/distribution", nil, &dist); code != 200 || err != nil || !bytes.Equal(dist, distBefore) {
		t.Errorf("the distribution after the flood: %d %v %s, before %s", code, err, dist, distBefore)
	}
	var us struct{ Items []json.RawMessage }
	if code, err := e.admin.do("GET", "/api/v1/users?limit=200", nil, &us); code != 200 || err != nil || len(us.Items) != users {
		t.Errorf("users after the flood: %d %v, %d users, before %d", code, err, len(us.Items), users)
	}
}
