package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview75RevisionListIsPaginated: API.md says "Lists are paginated:
// ?limit= (default 50, max 200) and an opaque ?cursor=; answer
// {"items":[…],"next_cursor":"…"}". GET /api/v1/memos/{id}/revisions answers
// every revision of the memo in one list, each with its full title and body,
// and has neither limit nor cursor. A drafter may make revisions without
// end (autosave makes one every few seconds of typing), each up to the body
// limit (1 MiB): one request for the list then costs the node the sum of
// them all, in memory, decrypted, and answered in one body.
func TestReview75RevisionListIsPaginated(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	e.member("alice")
	m := e.create("alice", "Revised often", "revision 1")
	alice := e.h.SignIn("alice")
	rev := m.Revision
	for rev < 205 {
		next, err := e.h.Svc.EditMemo(e.h.Ctx, alice, m.ID, service.EditInput{Title: m.Title, Body: "revision " + strconv.Itoa(rev+1), Marking: m.Marking, ExpectedRevision: rev})
		if err != nil {
			t.Fatal(err)
		}
		rev = next.Revision
	}
	type page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor *string           `json:"next_cursor"`
	}
	r := e.call("alice", "GET", memoPath(m.ID, "revisions"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("revisions: %s", r)
	}
	p := decode[page](t, r)
	if len(p.Items) > 200 {
		t.Errorf("GET revisions of a memo of %d revisions answered %d items in one page; want a page of at most 200 (default 50) and a next_cursor", rev, len(p.Items))
	}
	if p.NextCursor == nil {
		t.Errorf("GET revisions answered no next_cursor field: a list must say where its next page starts")
	}
	r = e.call("alice", "GET", memoPath(m.ID, "revisions")+"?limit=2", nil)
	if r.status == http.StatusOK {
		if n := len(decode[page](t, r).Items); n > 2 {
			t.Errorf("GET revisions?limit=2 answered %d items; want at most 2", n)
		}
	} else {
		t.Errorf("GET revisions?limit=2: %s; want a page of at most 2", r)
	}
}
