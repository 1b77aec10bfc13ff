package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
)

// The cast of the access matrix, by the role each plays.
var matrixRoles = []string{
	"drafter",    // started the memo
	"codrafter",  // named a co-drafter at creation
	"signer",     // invited to sign (from circulating on), and signed
	"office",     // the channel office, holding its key
	"office2",    // a later office member whose access awaits a grant
	"ponlist",    // a principal on the standing distribution
	"pofflist",   // a principal not on it
	"auditor",    // the inspector general
	"admin",      // the administrator
	"contractor", // a member, but not eligible to file
	"stranger",   // an eligible member with nothing to do with the memo
}

// relation is how a role stands to a memo in a state.
type relation int

const (
	relNone relation = iota
	relDrafter
	relSigner
	relOffice
	relReader
)

var memoStates = []string{"draft", "circulating", "submitted", "acknowledged", "replied", "closed", "withdrawn", "returned"}

func delivered(state string) bool { return state != "draft" && state != "circulating" }

func editable(state string) bool { return state == "draft" || state == "circulating" }

func relationOf(role, state string) relation {
	switch role {
	case "drafter", "codrafter":
		return relDrafter
	case "signer":
		if state != "draft" {
			return relSigner
		}
	case "office":
		if delivered(state) {
			return relOffice
		}
	case "ponlist":
		if delivered(state) {
			return relReader
		}
	}
	return relNone
}

// eligibleMember reports whether the role may sign at all.
func eligibleMember(role string) bool {
	return slices.Contains([]string{"drafter", "codrafter", "signer", "stranger"}, role)
}

// hasSigned reports whether the fixture has role's signature in state
// (before submission): the drafter signs at once, the signer when invited.
func hasSigned(role, state string) bool {
	return role == "drafter" && editable(state) || role == "signer" && state == "circulating"
}

// fixture is a memo brought to a state, with the marker strings of its
// sealed fields.
type fixture struct {
	id       string
	revision int
	markers  []string
}

// memoCall is one memo API call of the matrix.
type memoCall struct {
	name, method, sub string
	body              func(f fixture) any
	// mutates: a success changes the memo, so it needs a memo of its own.
	mutates bool
	want    func(role string, rel relation, state string) int
}

// byRelation answers 404 to those without access, and otherwise applies f.
func byRelation(f func(rel relation, state string) int) func(string, relation, string) int {
	return func(_ string, rel relation, state string) int {
		if rel == relNone {
			return http.StatusNotFound
		}
		return f(rel, state)
	}
}

// only is the status for a call that rel may make: ok in the given
// states, 409 in others.
func only(ok int, state string, states ...string) int {
	if slices.Contains(states, state) {
		return ok
	}
	return http.StatusConflict
}

var memoCalls = []memoCall{
	{name: "read", method: "GET",
		want: byRelation(func(relation, string) int { return http.StatusOK })},
	{name: "revisions", method: "GET", sub: "revisions",
		want: byRelation(func(rel relation, _ string) int {
			if rel == relReader {
				return http.StatusForbidden
			}
			return http.StatusOK
		})},
	{name: "access", method: "GET", sub: "access",
		want: func(role string, rel relation, _ string) int {
			switch {
			case rel == relReader:
				return http.StatusForbidden
			case rel != relNone || role == "auditor":
				return http.StatusOK
			}
			return http.StatusNotFound
		}},
	{name: "export", method: "GET", sub: "export",
		want: byRelation(func(relation, string) int { return http.StatusOK })},
	{name: "edit", method: "PUT", mutates: true,
		body: func(f fixture) any {
			return service.EditInput{Title: "Edited title", Body: "Edited body.", Marking: "UNCLASSIFIED", ExpectedRevision: f.revision}
		},
		want: byRelation(func(rel relation, state string) int {
			if rel != relDrafter {
				return http.StatusForbidden
			}
			return only(http.StatusOK, state, "draft", "circulating")
		})},
	{name: "invite", method: "POST", sub: "signers", mutates: true,
		body: func(fixture) any { return map[string][]string{"usernames": {"invitee"}} },
		want: byRelation(func(rel relation, state string) int {
			if rel != relDrafter {
				return http.StatusForbidden
			}
			return only(http.StatusOK, state, "draft", "circulating")
		})},
	{name: "sign", method: "POST", sub: "signatures", mutates: true,
		body: func(f fixture) any { return map[string]int{"revision": f.revision} },
		want: func(role string, rel relation, state string) int {
			switch {
			case !eligibleMember(role): // refused before the memo is looked up
				return http.StatusForbidden
			case rel == relNone:
				return http.StatusNotFound
			}
			return only(http.StatusCreated, state, "draft", "circulating")
		}},
	{name: "unsign", method: "DELETE", sub: "signatures/me", mutates: true,
		want: func(role string, rel relation, state string) int {
			switch {
			case rel == relNone:
				return http.StatusNotFound
			case rel == relOffice || rel == relReader:
				return http.StatusForbidden
			case hasSigned(role, state):
				return http.StatusOK
			}
			return http.StatusConflict
		}},
	{name: "submit", method: "POST", sub: "submit", mutates: true,
		body: func(f fixture) any { return map[string]int{"revision": f.revision} },
		want: byRelation(func(rel relation, state string) int {
			if rel != relDrafter {
				return http.StatusForbidden
			}
			return only(http.StatusCreated, state, "draft", "circulating")
		})},
	{name: "acknowledge", method: "POST", sub: "acknowledge", mutates: true,
		want: byRelation(officeOnly(http.StatusOK, "submitted"))},
	{name: "return", method: "POST", sub: "return", mutates: true,
		body: func(fixture) any { return map[string]string{"reason": "Out of scope."} },
		want: byRelation(officeOnly(http.StatusOK, "submitted", "acknowledged"))},
	{name: "withdraw", method: "POST", sub: "withdraw", mutates: true,
		body: func(fixture) any { return map[string]string{"reason": "Withdrawn."} },
		want: byRelation(func(rel relation, state string) int {
			if rel != relDrafter {
				return http.StatusForbidden
			}
			return only(http.StatusOK, state, "draft", "circulating", "submitted", "acknowledged")
		})},
	{name: "distribution", method: "POST", sub: "distribution", mutates: true,
		body: func(fixture) any {
			return service.ReadersInput{Usernames: []string{"pofflist"}, Reason: "Needs to know."}
		},
		want: byRelation(officeOnly(http.StatusOK, "submitted", "acknowledged", "replied", "closed"))},
	{name: "revoke reader", method: "DELETE", sub: "distribution/ponlist", mutates: true,
		body: func(fixture) any { return map[string]string{"reason": "No longer needs to know."} },
		want: byRelation(officeOnly(http.StatusOK, "submitted", "acknowledged", "replied", "closed", "withdrawn", "returned"))},
	{name: "comment", method: "POST", sub: "comments", mutates: true,
		body: func(fixture) any { return map[string]string{"body": "A comment."} },
		want: byRelation(func(rel relation, _ string) int {
			if rel == relOffice || rel == relReader {
				return http.StatusCreated
			}
			return http.StatusForbidden
		})},
	{name: "meeting", method: "POST", sub: "meetings", mutates: true,
		body: func(fixture) any {
			return map[string]any{"held_at": "2026-03-03T15:00:00-05:00", "minutes": 20, "principal": "ponlist", "attendees": []string{"drafter"}, "notes": "Notes."}
		},
		want: byRelation(officeOnly(http.StatusCreated, "submitted", "acknowledged", "replied", "closed", "returned"))},
	{name: "reply", method: "POST", sub: "reply", mutates: true,
		body: func(fixture) any { return map[string]string{"body": "The reply."} },
		want: byRelation(officeOnly(http.StatusOK, "submitted", "acknowledged"))},
	{name: "close", method: "POST", sub: "close", mutates: true,
		want: byRelation(officeOnly(http.StatusOK, "replied"))},
}

// officeOnly: the office may, in the given states; everyone else who can
// see the memo gets 403.
func officeOnly(ok int, states ...string) func(relation, string) int {
	return func(rel relation, state string) int {
		if rel != relOffice {
			return http.StatusForbidden
		}
		return only(ok, state, states...)
	}
}

// matrixEnv sets the cast up.
func matrixEnv(t *testing.T, st store.Store) *env {
	e := newEnv(t, st)
	e.user("office", false, "office")
	e.user("office2", false, "office")
	e.user("ponlist", false, "principal")
	e.user("pofflist", false, "principal")
	e.user("auditor", false, "auditor")
	e.user("contractor", false, "member")
	for _, m := range []string{"drafter", "codrafter", "signer", "invitee", "stranger"} {
		e.member(m)
	}
	e.distribute("ponlist")
	e.confirm("pofflist") // a reader the office may add
	return e
}

// fixtureIn makes a memo in state, with a marker in every sealed field it
// has by then.
func (e *env) fixtureIn(state string) fixture {
	e.t.Helper()
	tag := missingID()[:10]
	f := fixture{revision: 1, markers: []string{"title-" + tag, "body-" + tag}}
	m := e.create("drafter", "Matrix "+f.markers[0], "Matrix "+f.markers[1], "codrafter")
	f.id = m.ID
	e.sign("drafter", f.id, 1)
	if state == "draft" {
		return f
	}
	e.must(http.StatusOK, "drafter", "POST", memoPath(f.id, "signers"), map[string][]string{"usernames": {"signer"}})
	e.sign("signer", f.id, 1)
	if state == "circulating" {
		return f
	}
	e.submit("drafter", f.id, 1)
	comment := "comment-" + tag
	f.markers = append(f.markers, comment)
	e.must(http.StatusCreated, "ponlist", "POST", memoPath(f.id, "comments"), map[string]string{"body": comment})
	step := func(sub string, body any) {
		e.t.Helper()
		e.must(http.StatusOK, "office", "POST", memoPath(f.id, sub), body)
	}
	switch state {
	case "acknowledged":
		step("acknowledge", nil)
	case "replied", "closed":
		f.markers = append(f.markers, "reply-"+tag)
		step("reply", map[string]string{"body": "reply-" + tag})
		if state == "closed" {
			step("close", nil)
		}
	case "withdrawn":
		f.markers = append(f.markers, "withdrawn-"+tag)
		e.must(http.StatusOK, "drafter", "POST", memoPath(f.id, "withdraw"), map[string]string{"reason": "withdrawn-" + tag})
	case "returned":
		f.markers = append(f.markers, "returned-"+tag)
		step("return", map[string]string{"reason": "returned-" + tag})
	}
	if got := e.read("drafter", f.id).State; got != state {
		e.t.Fatalf("fixture in %s is %s", state, got)
	}
	return f
}

// TestAccessMatrix checks every memo call, for every role, in every state,
// on both stores. Whoever has no access gets a 404 identical, byte for byte,
// to the answer about a memo that does not exist; a refusal reveals none of
// the memo's contents and changes nothing.
func TestAccessMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the full matrix takes a while")
	}
	bothStores(t, func(t *testing.T, st store.Store) {
		e := matrixEnv(t, st)
		for _, state := range memoStates {
			t.Run(state, func(t *testing.T) { testMatrixState(t, e, state) })
		}
	})
}

func testMatrixState(t *testing.T, e *env, state string) {
	shared := e.fixtureIn(state)
	for _, c := range memoCalls {
		var body any
		if c.body != nil {
			body = c.body(shared)
		}
		before := e.snapshot(shared.id)
		var succeed []string
		for _, role := range matrixRoles {
			rel := relationOf(role, state)
			want := c.want(role, rel, state)
			if c.mutates && want < 300 {
				succeed = append(succeed, role) // each on a memo of its own, below
				continue
			}
			name := fmt.Sprintf("%s/%s/%d", c.name, role, want)
			t.Run(name, func(t *testing.T) {
				r := e.call(role, c.method, memoPath(shared.id, c.sub), body)
				if r.status != want {
					t.Fatalf("%s %s in %s as %s: got %s, want %d", c.method, c.name, state, role, r, want)
				}
				if r.status >= 400 {
					problemOf(t, r)
					for _, mk := range shared.markers {
						if bytes.Contains(r.body, []byte(mk)) {
							t.Errorf("a refusal reveals %q: %s", mk, r)
						}
					}
				}
				if rel == relNone && !(c.name == "access" && role == "auditor") {
					sameAsMissing(t, e, role, c, body, r)
				}
			})
		}
		if c.mutates {
			e.unchanged(fmt.Sprintf("%s refused in %s", c.name, state), before)
		}
		for _, role := range succeed {
			want := c.want(role, relationOf(role, state), state)
			t.Run(fmt.Sprintf("%s/%s/%d", c.name, role, want), func(t *testing.T) {
				f := e.fixtureIn(state)
				var body any
				if c.body != nil {
					body = c.body(f)
				}
				if r := e.call(role, c.method, memoPath(f.id, c.sub), body); r.status != want {
					t.Fatalf("%s %s in %s as %s: got %s, want %d", c.method, c.name, state, role, r, want)
				}
			})
		}
	}
}

// sameAsMissing checks that r, an answer about an existing memo, is exactly
// the answer about a memo that does not exist, for a well-formed id and for
// a malformed one.
func sameAsMissing(t *testing.T, e *env, role string, c memoCall, body any, r reply) {
	t.Helper()
	for _, id := range []string{missingID(), "not-an-id"} {
		m := e.call(role, c.method, memoPath(id, c.sub), body)
		if m.status != r.status || !bytes.Equal(m.body, r.body) || m.header.Get("Content-Type") != r.header.Get("Content-Type") {
			t.Errorf("%s as %s: an existing memo answers\n\t%s\nbut a missing one (%s)\n\t%s", c.name, role, r, id, m)
		}
	}
}

// TestIneligible: a member who may not file can draft nothing, co-draft
// nothing, be invited to nothing, and sign nothing.
func TestIneligible(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := matrixEnv(t, st)
		f := e.fixtureIn("draft")
		before := e.snapshot(f.id)
		cases := []struct {
			name, who, method, path string
			body                    any
			want                    int
		}{
			{"file", "contractor", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED"}, http.StatusForbidden},
			{"be a co-drafter", "drafter", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"contractor"}}, http.StatusUnprocessableEntity},
			{"be invited", "drafter", "POST", memoPath(f.id, "signers"), map[string][]string{"usernames": {"contractor"}}, http.StatusUnprocessableEntity},
			{"be invited with others", "drafter", "POST", memoPath(f.id, "signers"), map[string][]string{"usernames": {"invitee", "contractor"}}, http.StatusUnprocessableEntity},
			{"sign", "contractor", "POST", memoPath(f.id, "signatures"), map[string]int{"revision": 1}, http.StatusForbidden},
			{"withdraw", "contractor", "POST", memoPath(f.id, "withdraw"), map[string]string{"reason": "r"}, http.StatusNotFound},
			{"principal files", "ponlist", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED"}, http.StatusForbidden},
			{"office is invited", "drafter", "POST", memoPath(f.id, "signers"), map[string][]string{"usernames": {"office"}}, http.StatusUnprocessableEntity},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.call(c.who, c.method, c.path, c.body)
				if r.status != c.want {
					t.Fatalf("got %s, want %d", r, c.want)
				}
				p := problemOf(t, r)
				if c.want == http.StatusUnprocessableEntity && (len(p.Errors) == 0 || p.Errors[0].Field == "") {
					t.Errorf("a 422 that names no field: %s", r)
				}
			})
		}
		e.unchanged("the ineligible refused", before)
		if got := boxIDs(t, e, "contractor", "mine"); len(got) != 0 {
			t.Errorf("the contractor's box %v, want empty", got)
		}
		if m := e.read("drafter", f.id); m.State != "draft" || len(m.Authors) != 2 {
			t.Errorf("after refusals the memo is %s with %d authors", m.State, len(m.Authors))
		}
		// Eligibility taken away later also stops signing.
		e.must(http.StatusOK, "admin", "PATCH", "/api/v1/users/signer", map[string]bool{"eligible": false})
		e.signIn("signer")
		e.must(http.StatusUnprocessableEntity, "drafter", "POST", memoPath(f.id, "signers"), map[string][]string{"usernames": {"signer"}})
		e.must(http.StatusForbidden, "signer", "POST", "/api/v1/memos", service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED"})
	})
}
