package api_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
)

// TestLifecycle drives a memo through every step of API.md, on both stores,
// checking paths, fields and status codes as the contract states them.
func TestLifecycle(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) { testLifecycle(t, newEnv(t, st)) })
}

func testLifecycle(t *testing.T, e *env) {
	// Signing in: 201 with a token and an RFC 3339 expiry; a wrong password is 401.
	r := e.must(http.StatusCreated, "", "POST", "/api/v1/sessions", map[string]string{"username": "admin", "password": servicetest.Password("admin")})
	var session map[string]string
	if err := json.Unmarshal(r.body, &session); err != nil || session["token"] == "" {
		t.Fatalf("sign-in answer %s", r)
	}
	if exp, err := time.Parse(time.RFC3339, session["expires_at"]); err != nil || !exp.After(e.h.Clock.Now()) {
		t.Errorf("expires_at %q: want a future RFC 3339 time (%v)", session["expires_at"], err)
	}
	problemOf(t, e.must(http.StatusUnauthorized, "", "POST", "/api/v1/sessions", map[string]string{"username": "admin", "password": "wrong password"}))
	problemOf(t, e.must(http.StatusUnauthorized, "", "GET", "/api/v1/me", nil))

	// Accounts, made by the administrator.
	r = e.must(http.StatusCreated, "admin", "POST", "/api/v1/users", service.NewUser{
		Username: "office", DisplayName: "Policy Planning", Email: "office@example.test", Password: servicetest.InitialPassword("office"), Roles: []string{"office"}})
	if u := decode[service.User](t, r); u.Username != "office" || !slices.Equal(u.Roles, []string{"office"}) || u.KeyState != "pending" {
		t.Errorf("created user %s", r)
	}
	// No keys until the user chooses their own password: the one the
	// administrator set must never protect them.
	r = e.must(http.StatusCreated, "", "POST", "/api/v1/sessions", map[string]string{"username": "office", "password": servicetest.InitialPassword("office")})
	e.tokens["office"] = decode[map[string]string](t, r)["token"]
	problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "PUT", "/api/v1/me/password",
		map[string]string{"current_password": servicetest.InitialPassword("office"), "new_password": servicetest.InitialPassword("office")}))
	e.enrol("office")
	// No sign-in founds the office: the custodians do, with its first
	// member (the CLI's `dissent office found`).
	if me := decode[service.User](t, e.must(http.StatusOK, "office", "GET", "/api/v1/me", nil)); me.OfficeAccess != "unfounded" {
		t.Errorf("the office's first member before the founding: office_access %q, want unfounded", me.OfficeAccess)
	}
	if p := problemOf(t, e.must(http.StatusForbidden, "office", "GET", "/api/v1/office/key-confirmations", nil)); !strings.Contains(p.Detail, "not founded yet") {
		t.Errorf("the office's list before the founding: %q, want that it is not founded", p.Detail)
	}
	e.h.Found("office")
	e.user("office2", false, "office") // joins later: waits for a grant
	for _, p := range []string{"p1", "p2", "p3"} {
		e.user(p, false, "principal")
	}
	for _, m := range []string{"alice", "bob", "carol", "dave", "erin"} {
		e.member(m)
	}
	e.user("auditor", false, "auditor")
	e.user("contractor", false, "member")
	problemOf(t, e.must(http.StatusForbidden, "alice", "POST", "/api/v1/users", service.NewUser{
		Username: "mallory", DisplayName: "M", Email: "m@example.test", Password: "long enough password", Roles: []string{"admin"}}))

	// Who am I.
	me := decode[service.User](t, e.must(http.StatusOK, "alice", "GET", "/api/v1/me", nil))
	if me.Username != "alice" || !slices.Equal(me.Roles, []string{"member"}) || me.Eligible == nil || !*me.Eligible {
		t.Errorf("GET /me as alice: %+v", me)
	}
	if me := decode[service.User](t, e.must(http.StatusOK, "office", "GET", "/api/v1/me", nil)); me.OfficeAccess != "granted" {
		t.Errorf("the founding office member: office_access %q, want granted", me.OfficeAccess)
	}
	if me := decode[service.User](t, e.must(http.StatusOK, "office2", "GET", "/api/v1/me", nil)); me.OfficeAccess != "pending" {
		t.Errorf("a later office member: office_access %q, want pending", me.OfficeAccess)
	}

	// The directory shows usernames and display names only.
	r = e.must(http.StatusOK, "alice", "GET", "/api/v1/users?q=car", nil)
	var dir struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &dir); err != nil || dir.NextCursor == nil {
		t.Fatalf("directory %s", r)
	}
	if len(dir.Items) != 1 || dir.Items[0]["username"] != "carol" || dir.Items[0]["display_name"] != "Display carol" || len(dir.Items[0]) != 2 {
		t.Errorf("directory search for \"car\": %s", r)
	}
	page := decode[service.UserPage](t, e.must(http.StatusOK, "alice", "GET", "/api/v1/users?limit=2", nil))
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Errorf("a page of 2: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	next := decode[service.UserPage](t, e.must(http.StatusOK, "alice", "GET", "/api/v1/users?limit=2&cursor="+page.NextCursor, nil))
	if len(next.Items) != 2 || next.Items[0].Username <= page.Items[1].Username {
		t.Errorf("the next page does not follow the first: %v then %v", page.Items, next.Items)
	}
	e.must(http.StatusUnprocessableEntity, "alice", "GET", "/api/v1/users?limit=201", nil)

	// The standing distribution.
	e.distribute("p1", "p2")
	if d := decode[service.Distribution](t, e.must(http.StatusOK, "admin", "GET", "/api/v1/admin/distribution", nil)); !slices.Equal(d.Usernames, []string{"p1", "p2"}) {
		t.Errorf("distribution %v, want [p1 p2]", d.Usernames)
	}
	e.must(http.StatusForbidden, "office", "GET", "/api/v1/admin/distribution", nil)
	e.must(http.StatusForbidden, "alice", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: []string{"p3"}})
	e.must(http.StatusUnprocessableEntity, "admin", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: []string{"alice"}})

	// A draft with a co-drafter.
	m := e.create("alice", "On the policy", "The body, first draft.", "bob")
	if m.State != "draft" || m.Revision != 1 || m.ID == "" || m.Marking != "UNCLASSIFIED" || m.Receipt != nil || m.Deadlines != nil {
		t.Errorf("new draft %+v", m)
	}
	if got := authorNames(m.Authors, "drafter"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("drafters %v, want alice and bob", got)
	}
	id := m.ID

	// Editing with expected_revision: the stale one loses.
	m = decode[service.Memo](t, e.must(http.StatusOK, "bob", "PUT", memoPath(id), service.EditInput{Title: "On the policy", Body: "The body, second draft.", Marking: "UNCLASSIFIED", ExpectedRevision: 1}))
	if m.Revision != 2 || m.Body != "The body, second draft." {
		t.Errorf("after an edit: revision %d, body %q", m.Revision, m.Body)
	}
	problemOf(t, e.must(http.StatusConflict, "alice", "PUT", memoPath(id), service.EditInput{Title: "Mine", Body: "Lost update.", Marking: "UNCLASSIFIED", ExpectedRevision: 1}))

	// Signers invited: the memo circulates.
	m = decode[service.Memo](t, e.must(http.StatusOK, "alice", "POST", memoPath(id, "signers"), map[string][]string{"usernames": {"carol", "dave", "erin"}}))
	if m.State != "circulating" || !slices.Equal(authorNames(m.Authors, "signer"), []string{"carol", "dave", "erin"}) {
		t.Errorf("after inviting: state %s, signers %v", m.State, authorNames(m.Authors, "signer"))
	}
	if c := e.read("carol", id); c.Viewer != "signer" || c.Body != "The body, second draft." {
		t.Errorf("an invited signer reads viewer %q body %q", c.Viewer, c.Body)
	}

	// Signatures are over an exact revision.
	problemOf(t, e.must(http.StatusConflict, "carol", "POST", memoPath(id, "signatures"), map[string]int{"revision": 1}))
	m = decode[service.Memo](t, e.must(http.StatusCreated, "carol", "POST", memoPath(id, "signatures"), map[string]int{"revision": 2}))
	if m.Mine == nil || m.Mine.Revision != 2 {
		t.Errorf("carol's own signature: %+v", m.Mine)
	}
	e.sign("alice", id, 2)
	e.sign("dave", id, 2)

	// An edit voids every signature, and says how many.
	m = decode[service.Memo](t, e.must(http.StatusOK, "alice", "PUT", memoPath(id), service.EditInput{Title: "On the policy", Body: "The body, final text.", Marking: "SENSITIVE BUT UNCLASSIFIED", ExpectedRevision: 2}))
	if m.VoidedSignatures == nil || *m.VoidedSignatures != 3 {
		t.Errorf("voided_signatures %v, want 3", m.VoidedSignatures)
	}
	for _, a := range m.Authors {
		if a.SignedRevision != nil {
			t.Errorf("%s still signed revision %d after the edit", a.Username, *a.SignedRevision)
		}
	}
	problemOf(t, e.must(http.StatusConflict, "alice", "POST", memoPath(id, "submit"), map[string]int{"revision": 2}))
	problemOf(t, e.must(http.StatusUnprocessableEntity, "alice", "POST", memoPath(id, "submit"), map[string]int{"revision": 3})) // no drafter signed yet

	// Signing again; dave takes his signature back; erin never signs.
	for _, who := range []string{"alice", "carol", "dave"} {
		e.sign(who, id, 3)
	}
	m = decode[service.Memo](t, e.must(http.StatusOK, "dave", "DELETE", memoPath(id, "signatures", "me"), nil))
	if m.Mine != nil || signedBy(m.Authors, 3) != 2 {
		t.Errorf("after dave unsigned: mine %+v, %d signatures on revision 3", m.Mine, signedBy(m.Authors, 3))
	}
	problemOf(t, e.must(http.StatusConflict, "erin", "DELETE", memoPath(id, "signatures", "me"), nil))
	problemOf(t, e.must(http.StatusForbidden, "carol", "POST", memoPath(id, "submit"), map[string]int{"revision": 3}))

	// Submitting answers the receipt.
	submittedAt := e.h.Clock.Now()
	rr := e.must(http.StatusCreated, "bob", "POST", memoPath(id, "submit"), map[string]int{"revision": 3})
	var receiptFields map[string]json.RawMessage
	if err := json.Unmarshal(rr.body, &receiptFields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"memo_id", "revision", "content_hash", "authors_count", "submitted_at", "ledger_index", "checkpoint"} {
		if _, ok := receiptFields[f]; !ok {
			t.Errorf("the receipt lacks %q: %s", f, rr)
		}
	}
	rc := decode[service.Receipt](t, rr)
	if rc.MemoID != id || rc.Revision != 3 || rc.AuthorsCount != 3 || rc.Dropped != 2 || !rc.SubmittedAt.Equal(submittedAt.UTC().Truncate(time.Microsecond)) {
		t.Errorf("receipt %+v: want memo %s, revision 3, 3 authors (alice, bob, carol), 2 dropped", rc, id)
	}
	if h, err := hex.DecodeString(rc.ContentHash); err != nil || len(h) != 32 {
		t.Errorf("content_hash %q is not a hex SHA-256", rc.ContentHash)
	}
	problemOf(t, e.must(http.StatusConflict, "alice", "POST", memoPath(id, "submit"), map[string]int{"revision": 3}))
	problemOf(t, e.must(http.StatusConflict, "alice", "PUT", memoPath(id), service.EditInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", ExpectedRevision: 3}))

	// The receipt's checkpoint proves the submission, offline.
	receiptCP, err := ledger.OpenCheckpoint([]byte(rc.Checkpoint), e.h.LedgerVKey)
	if err != nil {
		t.Fatalf("the receipt's checkpoint: %v", err)
	}
	if receiptCP.Size <= rc.LedgerIndex {
		t.Fatalf("the receipt's checkpoint (size %d) does not cover its ledger index %d", receiptCP.Size, rc.LedgerIndex)
	}
	leaf := proveLeaf(t, e, rc.LedgerIndex, receiptCP)
	if leaf.Action != "memo.submit" || leaf.Memo != id || leaf.Content != rc.ContentHash || leaf.Revision != 3 || leaf.Actor != "" || leaf.Role != "author" {
		t.Errorf("the submission's ledger leaf %+v", leaf)
	}

	// The authors see the memo as submitted, with its deadlines and the
	// dropped signers.
	m = e.read("alice", id)
	if m.State != "submitted" || m.Receipt == nil || m.Receipt.LedgerIndex != rc.LedgerIndex {
		t.Errorf("after submitting: state %s, receipt %+v", m.State, m.Receipt)
	}
	if got := authorNames(m.Dropped, ""); !slices.Equal(got, []string{"dave", "erin"}) {
		t.Errorf("dropped_signers %v, want dave and erin", got)
	}
	if got := authorNames(m.Authors, ""); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("authors %v, want alice, bob, carol", got)
	}
	checkDeadlines(t, m.Deadlines, submittedAt)
	if got := distributionNames(m.Distribution); !sameSet(got, []string{"p1", "p2"}) {
		t.Errorf("distribution %v, want the standing p1 and p2", got)
	}

	// The office and the standing distribution see it; a principal off the
	// distribution and an office member without the key do not.
	if o := e.read("office", id); o.Viewer != "office" || o.Title != "On the policy" {
		t.Errorf("the office reads viewer %q title %q", o.Viewer, o.Title)
	}
	if p := e.read("p1", id); p.Viewer != "reader" || p.Body != "The body, final text." {
		t.Errorf("p1 reads viewer %q body %q", p.Viewer, p.Body)
	}
	for _, who := range []string{"p3", "office2", "auditor", "admin", "erin", "contractor"} {
		problemOf(t, e.must(http.StatusNotFound, who, "GET", memoPath(id), nil))
	}
	if ids := boxIDs(t, e, "p1", "distribution"); !slices.Contains(ids, id) {
		t.Errorf("p1's distribution box %v lacks the memo", ids)
	}
	if ids := boxIDs(t, e, "p3", "distribution"); len(ids) != 0 {
		t.Errorf("p3's distribution box %v, want empty", ids)
	}

	// Acknowledge, add a reader with a reason, comments, a meeting, the reply.
	if m := decode[service.Memo](t, e.must(http.StatusOK, "office", "POST", memoPath(id, "acknowledge"), nil)); m.State != "acknowledged" {
		t.Errorf("after acknowledging: %s", m.State)
	}
	problemOf(t, e.must(http.StatusConflict, "office", "POST", memoPath(id, "acknowledge"), nil))
	problemOf(t, e.must(http.StatusForbidden, "alice", "POST", memoPath(id, "acknowledge"), nil))
	// A principal's keys are confirmed by the office before it adds them.
	problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", memoPath(id, "distribution"), service.ReadersInput{Usernames: []string{"p3"}, Reason: "Regional expertise needed."}))
	e.confirm("p3")
	m = decode[service.Memo](t, e.must(http.StatusOK, "office", "POST", memoPath(id, "distribution"), service.ReadersInput{Usernames: []string{"p3"}, Reason: "Regional expertise needed."}))
	if i := slices.IndexFunc(m.Distribution, func(r service.Reader) bool { return r.Username == "p3" }); i < 0 {
		t.Errorf("p3 was not added: %+v", m.Distribution)
	} else if r := m.Distribution[i]; r.AddedBy != "office" || r.Reason != "Regional expertise needed." || r.AddedAt.IsZero() {
		t.Errorf("the added reader %+v: want added_by office with the reason", r)
	}
	e.read("p3", id)
	e.must(http.StatusCreated, "p1", "POST", memoPath(id, "comments"), map[string]string{"body": "Comment from p1."})
	e.h.Clock.Advance(time.Minute) // items of the same microsecond have no order
	e.must(http.StatusCreated, "office", "POST", memoPath(id, "comments"), map[string]string{"body": "Comment from the office."})
	problemOf(t, e.must(http.StatusForbidden, "alice", "POST", memoPath(id, "comments"), map[string]string{"body": "Authors do not comment."}))
	heldAt := time.Date(2026, 3, 5, 14, 0, 0, 0, servicetest.Office)
	m = decode[service.Memo](t, e.must(http.StatusCreated, "office", "POST", memoPath(id, "meetings"), map[string]any{
		"held_at": heldAt.Format(time.RFC3339), "minutes": 30, "principal": "p1", "attendees": []string{"alice", "carol"}, "notes": "Met for half an hour."}))
	if len(m.Meetings) != 1 || !m.Meetings[0].HeldAt.Equal(heldAt) || m.Meetings[0].Minutes != 30 || m.Meetings[0].Principal != "p1" ||
		!slices.Equal(m.Meetings[0].Attendees, []string{"alice", "carol"}) || m.Meetings[0].Notes != "Met for half an hour." {
		t.Errorf("meetings %+v", m.Meetings)
	}
	e.must(http.StatusUnprocessableEntity, "office", "POST", memoPath(id, "meetings"), map[string]any{
		"held_at": heldAt.Format(time.RFC3339), "minutes": 30, "principal": "p1", "attendees": []string{"dave"}})
	if o := e.read("office", id); len(o.Comments) != 2 || o.Comments[0].Author != "p1" || o.Comments[1].Body != "Comment from the office." {
		t.Errorf("the office sees comments %+v", o.Comments)
	}
	if a := e.read("alice", id); len(a.Comments) != 0 || len(a.Meetings) != 1 {
		t.Errorf("an author sees comments %+v (comments go to the office) and meetings %+v", a.Comments, a.Meetings)
	}
	m = decode[service.Memo](t, e.must(http.StatusOK, "office", "POST", memoPath(id, "reply"), map[string]string{"body": "The substantive reply."}))
	if m.State != "replied" || m.Reply == nil || m.Reply.Body != "The substantive reply." {
		t.Errorf("after the reply: state %s, reply %+v", m.State, m.Reply)
	}
	if a := e.read("carol", id); a.Reply == nil || a.Reply.Body != "The substantive reply." {
		t.Errorf("an author does not read the reply: %+v", a.Reply)
	}
	problemOf(t, e.must(http.StatusConflict, "alice", "POST", memoPath(id, "withdraw"), map[string]string{"reason": "Too late."}))
	if m := decode[service.Memo](t, e.must(http.StatusOK, "office", "POST", memoPath(id, "close"), nil)); m.State != "closed" {
		t.Errorf("after closing: %s", m.State)
	}

	// Who read it, and when.
	acc := decode[struct {
		Items []service.AccessEntry `json:"items"`
	}](t, e.must(http.StatusOK, "alice", "GET", memoPath(id, "access"), nil))
	reads := map[string]bool{}
	granted := map[string]bool{}
	for _, a := range acc.Items {
		if a.At.IsZero() {
			t.Errorf("access entry without a time: %+v", a)
		}
		switch a.Action {
		case "read":
			reads[a.Username] = true
		case "granted":
			granted[a.Username+"/"+a.Role] = true
		}
	}
	for _, who := range []string{"p1", "p3", "office", "alice", "carol"} {
		if !reads[who] {
			t.Errorf("the access log lacks %s's read: %+v", who, acc.Items)
		}
	}
	for _, g := range []string{"p1/principal", "p2/principal", "p3/principal", "/office"} {
		if !granted[g] {
			t.Errorf("the access log lacks the grant %s: %+v", g, acc.Items)
		}
	}
	if !slices.IsSortedFunc(acc.Items, func(a, b service.AccessEntry) int { return a.At.Compare(b.At) }) {
		t.Errorf("the access log is not in time order")
	}
	e.must(http.StatusOK, "auditor", "GET", memoPath(id, "access"), nil)
	e.must(http.StatusOK, "office", "GET", memoPath(id, "access"), nil)
	problemOf(t, e.must(http.StatusForbidden, "p1", "GET", memoPath(id, "access"), nil))
	problemOf(t, e.must(http.StatusNotFound, "p2", "GET", memoPath(missingID(), "access"), nil))

	// A second memo is returned as out of scope, a third withdrawn.
	returned := e.create("carol", "Out of scope", "A personnel matter.")
	e.sign("carol", returned.ID, 1)
	e.submit("carol", returned.ID, 1)
	problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", memoPath(returned.ID, "return"), map[string]string{"reason": " "}))
	if m := decode[service.Memo](t, e.must(http.StatusOK, "office", "POST", memoPath(returned.ID, "return"), map[string]string{"reason": "Not a policy matter."})); m.State != "returned" || m.Reason != "Not a policy matter." {
		t.Errorf("after returning: state %s, reason %q", m.State, m.Reason)
	}
	if m := e.read("carol", returned.ID); m.Reason != "Not a policy matter." {
		t.Errorf("the author does not see why it was returned: %q", m.Reason)
	}
	withdrawn := e.create("bob", "Second thoughts", "Withdrawn later.", "alice")
	e.sign("bob", withdrawn.ID, 1)
	e.submit("alice", withdrawn.ID, 1)
	if m := decode[service.Memo](t, e.must(http.StatusOK, "bob", "POST", memoPath(withdrawn.ID, "withdraw"), map[string]string{"reason": "Overtaken by events."})); m.State != "withdrawn" || m.Reason != "Overtaken by events." {
		t.Errorf("after withdrawing: state %s, reason %q", m.State, m.Reason)
	}

	// The boxes.
	if got := boxIDs(t, e, "alice", "mine"); !sameSet(got, []string{id, withdrawn.ID}) {
		t.Errorf("alice's box %v, want %v", got, []string{id, withdrawn.ID})
	}
	if got := boxIDs(t, e, "carol", "mine"); !sameSet(got, []string{id, returned.ID}) {
		t.Errorf("carol's box %v, want %v", got, []string{id, returned.ID})
	}
	if got := boxIDs(t, e, "erin", "mine"); len(got) != 0 {
		t.Errorf("a dropped signer's box %v, want empty", got)
	}
	if got := boxIDs(t, e, "p1", "distribution"); !sameSet(got, []string{id, returned.ID, withdrawn.ID}) {
		t.Errorf("p1's distribution box %v", got)
	}
	e.must(http.StatusForbidden, "alice", "GET", "/api/v1/memos?box=office", nil)
	e.must(http.StatusForbidden, "office2", "GET", "/api/v1/memos?box=office", nil)
	e.must(http.StatusForbidden, "alice", "GET", "/api/v1/memos?box=distribution", nil)
	e.must(http.StatusUnprocessableEntity, "alice", "GET", "/api/v1/memos?box=everything", nil)
	if got := boxIDs(t, e, "office", "office&state=closed,returned,withdrawn"); !sameSet(got, []string{id, returned.ID, withdrawn.ID}) {
		t.Errorf("the office's finished memos %v", got)
	}

	// A year of fewer memos than the threshold shows only "<5".
	if st := decode[map[string]any](t, e.must(http.StatusOK, "auditor", "GET", "/api/v1/stats?year=2026", nil)); st["submitted"] != "<5" {
		t.Errorf("3 memos submitted, published as %v", st["submitted"])
	}

	// The office box is sorted by the nearest deadline: an acknowledged
	// memo owes its reply (far), later submissions owe acknowledgements.
	open := make([]string, 3)
	for i, who := range []string{"alice", "carol", "bob"} {
		m := e.create(who, "Open memo "+strconv.Itoa(i), "Body.")
		e.sign(who, m.ID, 1)
		e.submit(who, m.ID, 1)
		open[i] = m.ID
		if i == 0 {
			e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "acknowledge"), nil)
		}
		e.h.Clock.Advance(24 * time.Hour)
		e.signInAgain()
	}
	box := decode[service.MemoPage](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos?box=office", nil))
	var got []string
	for i, s := range box.Items {
		got = append(got, s.ID)
		if s.Deadlines == nil || s.DueAt == nil {
			t.Errorf("office box item %s has no deadlines", s.ID)
			continue
		}
		if i > 0 && box.Items[i-1].DueAt != nil && s.DueAt.Before(*box.Items[i-1].DueAt) {
			t.Errorf("the office box is not sorted by nearest deadline at %d: %v before %v", i, *box.Items[i-1].DueAt, *s.DueAt)
		}
	}
	if want := []string{open[1], open[2], open[0]}; !slices.Equal(got, want) {
		t.Errorf("office box %v, want %v (nearest deadline first)", got, want)
	}
	// Paging keeps the order.
	p1 := decode[service.MemoPage](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos?box=office&limit=2", nil))
	p2 := decode[service.MemoPage](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos?box=office&limit=2&cursor="+p1.NextCursor, nil))
	var paged []string
	for _, s := range append(p1.Items, p2.Items...) {
		paged = append(paged, s.ID)
	}
	if !slices.Equal(paged, got) || p2.NextCursor != "" {
		t.Errorf("paged office box %v (cursor %q), want %v", paged, p2.NextCursor, got)
	}

	// The ledger: checkpoint, inclusion of every receipt, consistency.
	latest := e.checkpoint()
	proveLeaf(t, e, rc.LedgerIndex, latest)
	cr := decode[service.Proof](t, e.must(http.StatusOK, "alice", "GET", "/api/v1/ledger/consistency?from="+strconv.FormatInt(receiptCP.Size, 10)+"&to="+strconv.FormatInt(latest.Size, 10), nil))
	if err := tlog.CheckTree(parseHashes(t, cr.Hashes), latest.Size, latest.Root, receiptCP.Size, receiptCP.Root); err != nil {
		t.Errorf("consistency proof from %d to %d: %v", receiptCP.Size, latest.Size, err)
	}
	// A member who is not one of the memo's authors gets the hashes only,
	// and checks them against a leaf she holds; the ledger's leaves are
	// not hers to page through (who read what, how many signed).
	theirs := decode[service.Proof](t, e.must(http.StatusOK, "erin", "GET",
		"/api/v1/ledger/proof?index="+strconv.FormatInt(rc.LedgerIndex, 10)+"&size="+strconv.FormatInt(latest.Size, 10), nil))
	if theirs.Leaf != "" {
		t.Errorf("a member who is not an author was given leaf %d: %s", rc.LedgerIndex, theirs.Leaf)
	}
	if err := tlog.CheckRecord(parseHashes(t, theirs.Hashes), latest.Size, latest.Root, rc.LedgerIndex, tlog.RecordHash([]byte(rc.Leaf))); err != nil {
		t.Errorf("the receipt's leaf against the member's proof: %v", err)
	}
	// An author gets her memo's entries whole, proved in the latest
	// checkpoint when she names no size: a file `dissent verify` checks.
	mine := decode[service.Proof](t, e.must(http.StatusOK, "alice", "GET", "/api/v1/ledger/proof?index="+strconv.FormatInt(rc.LedgerIndex, 10), nil))
	if mine.Leaf != rc.Leaf || mine.Checkpoint == "" {
		t.Errorf("the author's proof of her submission: leaf %q, checkpoint %q; want the receipt's leaf and a checkpoint", mine.Leaf, mine.Checkpoint)
	}
	e.must(http.StatusUnprocessableEntity, "alice", "GET", "/api/v1/ledger/proof?index=0&size="+strconv.FormatInt(latest.Size+1000, 10), nil)
	e.must(http.StatusUnprocessableEntity, "alice", "GET", "/api/v1/ledger/proof?index=0&size=0", nil)
	e.must(http.StatusBadRequest, "alice", "GET", "/api/v1/ledger/proof?index=x&size=1", nil)
	e.must(http.StatusUnprocessableEntity, "alice", "GET", "/api/v1/ledger/consistency?from=0&to=1", nil)

	// Figures: no count under 5 is ever published as a number.
	sr := e.must(http.StatusOK, "auditor", "GET", "/api/v1/stats?year=2026", nil)
	var stats struct {
		States    map[string]any `json:"states"`
		Submitted any            `json:"submitted"`
	}
	if err := json.Unmarshal(sr.body, &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Submitted != float64(6) {
		t.Errorf("stats %s: want 6 submitted", sr)
	}
	for _, st := range []string{"closed", "returned", "withdrawn", "submitted", "acknowledged"} {
		if v, ok := stats.States[st].(string); !ok || v != "<5" && v != "suppressed" {
			t.Errorf("stats: state %s (1 or 2 memos) published as %v", st, stats.States[st])
		}
	}
	checkSuppressed(t, sr.body)
	e.must(http.StatusOK, "office", "GET", "/api/v1/stats?year=2026", nil)
	e.must(http.StatusOK, "admin", "GET", "/api/v1/stats?year=2026", nil)
	e.must(http.StatusForbidden, "alice", "GET", "/api/v1/stats?year=2026", nil)
	e.must(http.StatusForbidden, "p1", "GET", "/api/v1/stats?year=2026", nil)
	e.must(http.StatusBadRequest, "auditor", "GET", "/api/v1/stats", nil)

	// Health.
	e.must(http.StatusOK, "", "GET", "/healthz", nil)
	e.must(http.StatusOK, "", "GET", "/readyz", nil)

	// Signing out revokes the token.
	e.must(http.StatusNoContent, "alice", "DELETE", "/api/v1/sessions/current", nil)
	r = e.must(http.StatusUnauthorized, "alice", "GET", "/api/v1/me", nil)
	problemOf(t, r)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	e.must(http.StatusUnauthorized, "alice", "DELETE", "/api/v1/sessions/current", nil)
	e.must(http.StatusOK, "bob", "GET", "/api/v1/me", nil) // other sessions live on
}

// authorNames lists the usernames of authors of kind ("" for any).
func authorNames(as []service.Author, kind string) []string {
	var out []string
	for _, a := range as {
		if kind == "" || a.Kind == kind {
			out = append(out, a.Username)
		}
	}
	return out
}

// signedBy counts the authors whose signature is on revision rev.
func signedBy(as []service.Author, rev int) int {
	n := 0
	for _, a := range as {
		if a.SignedRevision != nil && *a.SignedRevision == rev {
			n++
		}
	}
	return n
}

func distributionNames(rs []service.Reader) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Username)
	}
	return out
}

// boxIDs lists the ids in a box ("box" may carry more query parameters).
func boxIDs(t testing.TB, e *env, who, box string) []string {
	t.Helper()
	p := decode[service.MemoPage](t, e.must(http.StatusOK, who, "GET", "/api/v1/memos?box="+box, nil))
	ids := []string{}
	for _, s := range p.Items {
		ids = append(ids, s.ID)
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkDeadlines checks that a submitted memo's deadlines are present and
// in order: acknowledge, reply, reply at the latest.
func checkDeadlines(t testing.TB, d *service.Deadlines, submitted time.Time) {
	t.Helper()
	if d == nil {
		t.Fatal("a submitted memo without deadlines")
	}
	if !d.AcknowledgeBy.After(submitted) || !d.ReplyBy.After(d.AcknowledgeBy) || d.ReplyLatest.Before(d.ReplyBy) {
		t.Errorf("deadlines out of order for a memo submitted %v: %+v", submitted, d)
	}
}

// proveLeaf fetches the inclusion proof of leaf index in the tree cp signs,
// checks it with tlog.CheckRecord against cp's root, and returns the leaf.
func proveLeaf(t testing.TB, e *env, index int64, cp ledger.Checkpoint) ledger.Leaf {
	t.Helper()
	p := decode[service.Proof](t, e.must(http.StatusOK, "admin", "GET",
		"/api/v1/ledger/proof?index="+strconv.FormatInt(index, 10)+"&size="+strconv.FormatInt(cp.Size, 10), nil))
	if err := tlog.CheckRecord(parseHashes(t, p.Hashes), cp.Size, cp.Root, index, tlog.RecordHash([]byte(p.Leaf))); err != nil {
		t.Fatalf("inclusion proof of leaf %d in size %d: %v", index, cp.Size, err)
	}
	l, err := ledger.DecodeLeaf([]byte(p.Leaf))
	if err != nil {
		t.Fatalf("leaf %d: %v", index, err)
	}
	return l
}

func parseHashes(t testing.TB, hs []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(hs))
	for i, s := range hs {
		h, err := tlog.ParseHash(s)
		if err != nil {
			t.Fatalf("proof hash %q: %v", s, err)
		}
		out[i] = h
	}
	return out
}

// checkSuppressed fails if any count in a stats document is a number from
// 1 to 4: those must be published as "<5".
func checkSuppressed(t testing.TB, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				// Shares and medians are not counts.
				if k != "year" && k != "suppression_threshold" && k != "signer_bands_after" && !strings.Contains(k, "share") && !strings.Contains(k, "median") {
					walk(path+"."+k, c)
				}
			}
		case float64:
			if x > 0 && x < 5 {
				t.Errorf("stats%s = %v: a count under 5 is published", path, x)
			}
		case string:
			if x != "<5" && x != "suppressed" {
				t.Errorf("stats%s = %q", path, x)
			}
		}
	}
	walk("", v)
}
