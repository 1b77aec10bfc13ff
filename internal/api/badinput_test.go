package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
)

// bodyEndpoint is an endpoint that takes a request body, with a body it
// accepts in a fixture made for it.
type bodyEndpoint struct {
	name, who, method string
	state             string // the memo fixture the call needs ("" for none)
	path              func(f fixture) string
	valid             func(f fixture) any
	ok                int
}

func memoSub(sub string) func(f fixture) string {
	return func(f fixture) string { return memoPath(f.id, sub) }
}

func fixed(p string) func(fixture) string { return func(fixture) string { return p } }

var bodyEndpoints = []bodyEndpoint{
	{name: "sign in", method: "POST", path: fixed("/api/v1/sessions"), ok: http.StatusCreated,
		valid: func(fixture) any {
			return map[string]string{"username": "stranger", "password": servicetest.Password("stranger")}
		}},
	{name: "create user", who: "admin", method: "POST", path: fixed("/api/v1/users"), ok: http.StatusCreated,
		valid: func(fixture) any {
			return service.NewUser{Username: "newbie", DisplayName: "New", Email: "newbie@example.test", Password: "a long enough password", Roles: []string{"member"}, Eligible: true}
		}},
	{name: "update user", who: "admin", method: "PATCH", path: fixed("/api/v1/users/stranger"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string]string{"display_name": "Renamed"} }},
	{name: "reset password", who: "admin", method: "POST", path: fixed("/api/v1/users/resetme/password-reset"), ok: http.StatusNoContent,
		valid: func(fixture) any { return map[string]string{"password": "a new long password"} }},
	{name: "change password", who: "changer", method: "PUT", path: fixed("/api/v1/me/password"), ok: http.StatusOK,
		valid: func(fixture) any {
			return map[string]string{"current_password": servicetest.Password("changer"), "new_password": "another long password"}
		}},
	{name: "set distribution", who: "admin", method: "PUT", path: fixed("/api/v1/admin/distribution"), ok: http.StatusOK,
		valid: func(fixture) any { return service.Distribution{Usernames: []string{"ponlist"}} }},
	{name: "create memo", who: "drafter", method: "POST", path: fixed("/api/v1/memos"), ok: http.StatusCreated,
		valid: func(fixture) any {
			return service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"codrafter"}}
		}},
	{name: "edit memo", who: "drafter", method: "PUT", state: "draft", path: memoSub(""), ok: http.StatusOK,
		valid: func(f fixture) any {
			return service.EditInput{Title: "T2", Body: "B2", Marking: "UNCLASSIFIED", ExpectedRevision: f.revision}
		}},
	{name: "invite signers", who: "drafter", method: "POST", state: "draft", path: memoSub("signers"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string][]string{"usernames": {"invitee"}} }},
	{name: "sign", who: "codrafter", method: "POST", state: "draft", path: memoSub("signatures"), ok: http.StatusCreated,
		valid: func(f fixture) any { return map[string]int{"revision": f.revision} }},
	{name: "submit", who: "drafter", method: "POST", state: "draft", path: memoSub("submit"), ok: http.StatusCreated,
		valid: func(f fixture) any { return map[string]int{"revision": f.revision} }},
	{name: "return", who: "office", method: "POST", state: "submitted", path: memoSub("return"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string]string{"reason": "Out of scope."} }},
	{name: "withdraw", who: "drafter", method: "POST", state: "circulating", path: memoSub("withdraw"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string]string{"reason": "Withdrawn."} }},
	{name: "add readers", who: "office", method: "POST", state: "submitted", path: memoSub("distribution"), ok: http.StatusOK,
		valid: func(fixture) any {
			return service.ReadersInput{Usernames: []string{"pofflist"}, Reason: "Needs to know."}
		}},
	{name: "revoke reader", who: "office", method: "DELETE", state: "submitted", path: memoSub("distribution/ponlist"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string]string{"reason": "No longer needs to know."} }},
	{name: "new keys", who: "lockedout", method: "POST", path: fixed("/api/v1/me/keys"), ok: http.StatusOK,
		valid: func(fixture) any {
			return map[string]string{"current_password": lockedOutPassword, "new_password": "lockedout's own phrase"}
		}},
	{name: "mark notices read", who: "ponlist", method: "POST", path: fixed("/api/v1/notifications/read"), ok: http.StatusNoContent,
		valid: func(fixture) any { return map[string]int64{"seq": 0} }},
	{name: "comment", who: "ponlist", method: "POST", state: "submitted", path: memoSub("comments"), ok: http.StatusCreated,
		valid: func(fixture) any { return map[string]string{"body": "A comment."} }},
	{name: "meeting", who: "office", method: "POST", state: "acknowledged", path: memoSub("meetings"), ok: http.StatusCreated,
		valid: func(fixture) any {
			return service.MeetingInput{HeldAt: servicetest.Start, Minutes: 30, Principal: "ponlist", Attendees: []string{"drafter"}, Notes: "N."}
		}},
	{name: "reply", who: "office", method: "POST", state: "acknowledged", path: memoSub("reply"), ok: http.StatusOK,
		valid: func(fixture) any { return map[string]string{"body": "The reply."} }},
}

// malformation is a way to spoil a valid body.
type malformation struct {
	name        string
	contentType string
	body        func(valid []byte) []byte
	status      int
	detail      string // part of the problem's detail
}

var malformations = []malformation{
	{name: "malformed JSON", body: func([]byte) []byte { return []byte(`{"title": "unterminated`) }, status: 400, detail: "not valid JSON"},
	{name: "unknown field", body: func(v []byte) []byte { return append([]byte(`{"not_a_field":1,`), v[1:]...) }, status: 400, detail: "unknown field"},
	{name: "misspelled field", body: func(v []byte) []byte { return []byte(strings.Replace(string(v), `":`, `_X":`, 1)) }, status: 400, detail: "unknown field"},
	{name: "field in capitals", body: func(v []byte) []byte {
		name, _ := firstMember(v)
		return []byte(strings.Replace(string(v), `"`+name+`"`, `"`+strings.ToUpper(name)+`"`, 1))
	}, status: 400, detail: "unknown field"},
	{name: "field given twice", body: func(v []byte) []byte {
		_, member := firstMember(v)
		return append([]byte("{"+member+","), v[1:]...)
	}, status: 400, detail: "twice"},
	{name: "empty body", body: func([]byte) []byte { return []byte{} }, status: 400, detail: "empty"},
	{name: "whitespace only", body: func([]byte) []byte { return []byte(" \n\t ") }, status: 400, detail: "empty"},
	{name: "an array", body: func([]byte) []byte { return []byte(`[]`) }, status: 400},
	{name: "null", body: func([]byte) []byte { return []byte(`null`) }, status: 400, detail: "JSON object"},
	{name: "a string", body: func([]byte) []byte { return []byte(`"text"`) }, status: 400},
	{name: "a number", body: func([]byte) []byte { return []byte(`42`) }, status: 400},
	{name: "wrong types", body: wrongTypes, status: 400},
	{name: "trailing object", body: func(v []byte) []byte { return append(bytes.Clone(v), `{}`...) }, status: 400, detail: "after the JSON object"},
	{name: "trailing garbage", body: func(v []byte) []byte { return append(bytes.Clone(v), ` x`...) }, status: 400},
	{name: "trailing bracket", body: func(v []byte) []byte { return append(bytes.Clone(v), `]`...) }, status: 400},
	{name: "invalid UTF-8", body: func(v []byte) []byte { return append([]byte("{\"x\xff\":1,"), v[1:]...) }, status: 400, detail: "UTF-8"},
	{name: "overlong UTF-8", body: func(v []byte) []byte { return append([]byte("{\"\xc0\xaf\":1,"), v[1:]...) }, status: 400, detail: "UTF-8"},
	{name: "byte order mark", body: func(v []byte) []byte { return append([]byte("\xef\xbb\xbf"), v...) }, status: 400},
	{name: "deep nesting", body: func([]byte) []byte {
		return []byte(`{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`) // past the decoder's depth, within every route's size
	}, status: 400},
	{name: "oversized", body: func([]byte) []byte {
		return []byte(`{"body":"` + strings.Repeat("a", apiMaxBody+1) + `"}`)
	}, status: 413, detail: "larger than"},
	{name: "text/plain", contentType: "text/plain", body: bytes.Clone, status: 415},
	{name: "form", contentType: "application/x-www-form-urlencoded", body: bytes.Clone, status: 415},
	{name: "json lookalike", contentType: "application/jsonp", body: bytes.Clone, status: 415},
}

// firstMember returns the name of the first member of a JSON object, and
// the member as text.
func firstMember(v []byte) (name, member string) {
	dec := json.NewDecoder(bytes.NewReader(v))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	tok, err := dec.Token()
	if err != nil {
		panic(err)
	}
	var val json.RawMessage
	if err := dec.Decode(&val); err != nil {
		panic(err)
	}
	name = tok.(string)
	return name, strconv.Quote(name) + ":" + string(val)
}

// wrongTypes gives every field of the valid body a value of another type.
func wrongTypes(v []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		panic(err)
	}
	for k, x := range m {
		switch x.(type) {
		case string, []any, nil:
			m[k] = map[string]any{"nested": true}
		default:
			m[k] = "a string"
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// lockedOutPassword is what an administrator reset lockedout's password to.
const lockedOutPassword = "reset by the administrator"

// badInputEnv is the matrix cast plus accounts whose passwords change, and
// one whose keys are locked after a reset.
func badInputEnv(t *testing.T, st store.Store) *env {
	e := matrixEnv(t, st)
	e.member("resetme")
	e.member("changer")
	e.member("lockedout")
	e.must(http.StatusNoContent, "admin", "POST", "/api/v1/users/lockedout/password-reset", map[string]string{"password": lockedOutPassword})
	r := e.must(http.StatusCreated, "", "POST", "/api/v1/sessions", map[string]string{"username": "lockedout", "password": lockedOutPassword})
	e.tokens["lockedout"] = decode[struct {
		Token string `json:"token"`
	}](t, r).Token
	return e
}

// TestBadInput sends every body-taking endpoint malformed, unknown,
// oversized, mis-typed and mis-encoded bodies: each gets its status and
// changes nothing; the endpoint then accepts a valid body, so the refusals
// were about the body alone.
func TestBadInput(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := badInputEnv(t, st)
		for _, ep := range bodyEndpoints {
			t.Run(ep.name, func(t *testing.T) {
				var f fixture
				var ids []string
				if ep.state != "" {
					f = e.fixtureIn(ep.state)
					ids = append(ids, f.id)
				}
				valid, err := json.Marshal(ep.valid(f))
				if err != nil {
					t.Fatal(err)
				}
				path := ep.path(f)
				before := e.snapshot(ids...)
				for _, m := range malformations {
					ct := m.contentType
					if ct == "" {
						ct = "application/json"
					}
					r := e.raw(e.token(ep.who), ep.method, path, ct, m.body(valid))
					if r.status != m.status {
						t.Errorf("%s: got %s, want %d", m.name, r, m.status)
						continue
					}
					if p := problemOf(t, r); !strings.Contains(p.Detail, m.detail) {
						t.Errorf("%s: detail %q, want it to say %q", m.name, p.Detail, m.detail)
					}
				}
				e.unchanged(ep.name+" with bad bodies", before)
				r := e.raw(e.token(ep.who), ep.method, path, "application/json; charset=utf-8", append(valid, '\n'))
				if r.status != ep.ok {
					t.Errorf("the valid body: got %s, want %d", r, ep.ok)
				}
			})
		}
	})
}

// TestRuleBreakingInput: valid JSON that breaks a rule is a 422 naming the
// field (413 for a memo body over its limit, 409 for a wrong state or a
// stale revision), and changes nothing.
func TestRuleBreakingInput(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := badInputEnv(t, st)
		draft := e.fixtureIn("draft")
		submitted := e.fixtureIn("submitted")
		replied := e.fixtureIn("replied")
		closed := e.fixtureIn("closed")
		memo := func(title, body, marking string) service.MemoInput {
			return service.MemoInput{Title: title, Body: body, Marking: marking}
		}
		edit := func(title, body string) service.EditInput {
			return service.EditInput{Title: title, Body: body, Marking: "UNCLASSIFIED", ExpectedRevision: 1}
		}
		user := func(username, display, email string) service.NewUser {
			return service.NewUser{Username: username, DisplayName: display, Email: email, Password: "a long enough password", Roles: []string{"member"}}
		}
		meeting := func(mod func(m *service.MeetingInput)) service.MeetingInput {
			m := service.MeetingInput{HeldAt: servicetest.Start, Minutes: 30, Principal: "ponlist", Attendees: []string{"drafter"}}
			mod(&m)
			return m
		}
		tooBig := strings.Repeat("x", channel.DefaultMaxBody+1)
		cases := []struct {
			name, who, method, path string
			body                    any
			status                  int
			field                   string
		}{
			{"title with a bell", "drafter", "POST", "/api/v1/memos", memo("a\u0007b", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with NUL", "drafter", "POST", "/api/v1/memos", memo("a\u0000b", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with a newline", "drafter", "POST", "/api/v1/memos", memo("a\nb", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with escape", "drafter", "POST", "/api/v1/memos", memo("a\u001b[31mb", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with DEL", "drafter", "POST", "/api/v1/memos", memo("a\u007fb", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with C1 control", "drafter", "POST", "/api/v1/memos", memo("a\u0085b", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with bidi override", "drafter", "POST", "/api/v1/memos", memo("a\u202eb", "B", "UNCLASSIFIED"), 422, "title"},
			{"title with line separator", "drafter", "POST", "/api/v1/memos", memo("a\u2028b", "B", "UNCLASSIFIED"), 422, "title"},
			{"blank title", "drafter", "POST", "/api/v1/memos", memo("  ", "B", "UNCLASSIFIED"), 422, "title"},
			{"long title", "drafter", "POST", "/api/v1/memos", memo(strings.Repeat("é", channel.MaxTitle+1), "B", "UNCLASSIFIED"), 422, "title"},
			{"body with NUL", "drafter", "POST", "/api/v1/memos", memo("T", "a\u0000b", "UNCLASSIFIED"), 422, "body"},
			{"empty body", "drafter", "POST", "/api/v1/memos", memo("T", "", "UNCLASSIFIED"), 422, "body"},
			{"body over the limit", "drafter", "POST", "/api/v1/memos", memo("T", tooBig, "UNCLASSIFIED"), 413, "body"},
			{"unknown marking", "drafter", "POST", "/api/v1/memos", memo("T", "B", "TOP SECRET"), 422, "marking"},
			{"unknown co-drafter", "drafter", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"nobody"}}, 422, "codrafters"},
			{"co-drafter with a control", "drafter", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"code\u0000rafter"}}, 422, "codrafters"},
			{"self as co-drafter", "drafter", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"drafter"}}, 422, "codrafters"},
			{"edit title with a bell", "drafter", "PUT", memoPath(draft.id), edit("a\u0007", "B"), 422, "title"},
			{"edit body over the limit", "drafter", "PUT", memoPath(draft.id), edit("T", tooBig), 413, "body"},
			{"username with NUL", "admin", "POST", "/api/v1/users", user("ab\u0000c", "D", "x@example.test"), 422, "username"},
			{"username with a newline", "admin", "POST", "/api/v1/users", user("ab\nc", "D", "x@example.test"), 422, "username"},
			{"username in capitals", "admin", "POST", "/api/v1/users", user("Alice", "D", "x@example.test"), 422, "username"},
			{"username with a space", "admin", "POST", "/api/v1/users", user("a b", "D", "x@example.test"), 422, "username"},
			{"username of one letter", "admin", "POST", "/api/v1/users", user("a", "D", "x@example.test"), 422, "username"},
			{"username taken", "admin", "POST", "/api/v1/users", user("drafter", "D", "x@example.test"), 422, "username"},
			{"display name with a control", "admin", "POST", "/api/v1/users", user("newbie", "D\u0007", "x@example.test"), 422, "display_name"},
			{"bad e-mail", "admin", "POST", "/api/v1/users", user("newbie", "D", "not an address"), 422, "email"},
			{"unknown role", "admin", "POST", "/api/v1/users", service.NewUser{Username: "newbie", DisplayName: "D", Email: "x@example.test", Password: "a long enough password", Roles: []string{"god"}}, 422, "roles"},
			{"short password", "admin", "POST", "/api/v1/users", service.NewUser{Username: "newbie", DisplayName: "D", Email: "x@example.test", Password: "short", Roles: []string{"member"}}, 422, "password"},
			{"rename with a control", "admin", "PATCH", "/api/v1/users/stranger", map[string]string{"display_name": "a\u0000"}, 422, "display_name"},
			{"distribution with a control", "admin", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: []string{"pon\u0007list"}}, 422, "usernames"},
			{"distribution of a member", "admin", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: []string{"drafter"}}, 422, "usernames"},
			{"invite nobody", "drafter", "POST", memoPath(draft.id, "signers"), map[string][]string{"usernames": {}}, 422, "usernames"},
			{"invite a co-drafter", "drafter", "POST", memoPath(draft.id, "signers"), map[string][]string{"usernames": {"codrafter"}}, 422, "usernames"},
			{"invite twice in one list", "drafter", "POST", memoPath(draft.id, "signers"), map[string][]string{"usernames": {"invitee", "invitee"}}, 422, "usernames"},
			{"reason with a control", "office", "POST", memoPath(submitted.id, "return"), map[string]string{"reason": "a\u0000b"}, 422, "reason"},
			{"blank reason", "office", "POST", memoPath(submitted.id, "return"), map[string]string{"reason": ""}, 422, "reason"},
			{"withdraw reason with a control", "drafter", "POST", memoPath(draft.id, "withdraw"), map[string]string{"reason": "\u0008"}, 422, "reason"},
			{"comment with NUL", "office", "POST", memoPath(submitted.id, "comments"), map[string]string{"body": "\u0000"}, 422, "body"},
			{"reply with a control", "office", "POST", memoPath(submitted.id, "reply"), map[string]string{"body": "a\u0007"}, 422, "body"},
			{"reader already reading", "office", "POST", memoPath(submitted.id, "distribution"), service.ReadersInput{Usernames: []string{"ponlist"}, Reason: "R."}, 422, "usernames"},
			{"reader not a principal", "office", "POST", memoPath(submitted.id, "distribution"), service.ReadersInput{Usernames: []string{"stranger"}, Reason: "R."}, 422, "usernames"},
			{"reader without a reason", "office", "POST", memoPath(submitted.id, "distribution"), service.ReadersInput{Usernames: []string{"pofflist"}}, 422, "reason"},
			{"meeting of no minutes", "office", "POST", memoPath(submitted.id, "meetings"), meeting(func(m *service.MeetingInput) { m.Minutes = 0 }), 422, "minutes"},
			{"meeting never held", "office", "POST", memoPath(submitted.id, "meetings"), meeting(func(m *service.MeetingInput) { m.HeldAt = time.Time{} }), 422, "held_at"},
			{"meeting with an outsider", "office", "POST", memoPath(submitted.id, "meetings"), meeting(func(m *service.MeetingInput) { m.Attendees = []string{"stranger"} }), 422, "attendees"},
			{"meeting with a principal off it", "office", "POST", memoPath(submitted.id, "meetings"), meeting(func(m *service.MeetingInput) { m.Principal = "pofflist" }), 422, "principal"},
			{"meeting notes with a control", "office", "POST", memoPath(submitted.id, "meetings"), meeting(func(m *service.MeetingInput) { m.Notes = "\u0007" }), 422, "notes"},

			{"edit a submitted memo", "drafter", "PUT", memoPath(submitted.id), edit("T", "B"), 409, ""},
			{"stale expected_revision", "drafter", "PUT", memoPath(draft.id), service.EditInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", ExpectedRevision: 0}, 409, ""},
			{"sign a revision that is not current", "codrafter", "POST", memoPath(draft.id, "signatures"), map[string]int{"revision": 2}, 409, ""},
			{"unsign without a signature", "codrafter", "DELETE", memoPath(draft.id, "signatures", "me"), nil, 409, ""},
			{"submit a revision that is not current", "drafter", "POST", memoPath(draft.id, "submit"), map[string]int{"revision": 0}, 409, ""},
			{"submit twice", "drafter", "POST", memoPath(submitted.id, "submit"), map[string]int{"revision": 1}, 409, ""},
			{"sign a submitted memo", "signer", "POST", memoPath(submitted.id, "signatures"), map[string]int{"revision": 1}, 409, ""},
			{"invite to a submitted memo", "drafter", "POST", memoPath(submitted.id, "signers"), map[string][]string{"usernames": {"invitee"}}, 409, ""},
			{"acknowledge a replied memo", "office", "POST", memoPath(replied.id, "acknowledge"), nil, 409, ""},
			{"close a submitted memo", "office", "POST", memoPath(submitted.id, "close"), nil, 409, ""},
			{"withdraw a replied memo", "drafter", "POST", memoPath(replied.id, "withdraw"), map[string]string{"reason": "R."}, 409, ""},
			{"return a replied memo", "office", "POST", memoPath(replied.id, "return"), map[string]string{"reason": "R."}, 409, ""},
			{"reply to a closed memo", "office", "POST", memoPath(closed.id, "reply"), map[string]string{"body": "Again."}, 409, ""},
			{"close twice", "office", "POST", memoPath(closed.id, "close"), nil, 409, ""},
		}
		before := e.snapshot(draft.id, submitted.id, replied.id, closed.id)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.call(c.who, c.method, c.path, c.body)
				if r.status != c.status {
					t.Fatalf("got %s, want %d", r, c.status)
				}
				p := problemOf(t, r)
				if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
					t.Errorf("errors %+v, want one for %q", p.Errors, c.field)
				}
			})
		}
		e.unchanged("rule-breaking input", before)
	})
}

// TestBodilessRoutesRefuseABody: a route that takes no body refuses one
// with fields, repeated keys or invalid UTF-8 in it, and changes nothing;
// no body, or an empty object, is accepted.
func TestBodilessRoutesRefuseABody(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := badInputEnv(t, st)
		f := e.fixtureIn("submitted")
		path := memoPath(f.id, "acknowledge")
		before := e.snapshot(f.id)
		for name, body := range map[string][]byte{
			"a field":       []byte(`{"note":"acknowledged with conditions"}`),
			"repeated keys": []byte(`{"a":1,"a":2}`),
			"invalid UTF-8": {'{', '"', 0xff, '"', ':', '1', '}'},
			"not JSON":      []byte(`acknowledge please`),
			"too long":      append(append([]byte(`{`), bytes.Repeat([]byte(" "), 2000)...), '}'),
		} {
			r := e.raw(e.token("office"), "POST", path, "application/json", body)
			if r.status != http.StatusBadRequest || !strings.Contains(problemOf(t, r).Detail, "takes no body") {
				t.Errorf("%s: got %s, want 400 saying it takes no body", name, r)
			}
		}
		e.unchanged("acknowledge with bodies", before)
		if r := e.raw(e.token("office"), "POST", path, "application/json", []byte(" { } ")); r.status != http.StatusOK {
			t.Errorf("an empty object: got %s, want 200", r)
		}
	})
}
