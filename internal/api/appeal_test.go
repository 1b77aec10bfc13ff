package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
)

// nrcReplied is an NRC deployment with an office, alice and eve, and a
// memo of alice's that the office replied to.
func nrcReplied(t *testing.T, st store.Store) (*env, service.Memo) {
	t.Helper()
	e := newEnv(t, st, servicetest.Options{Profile: "nrc-dpo"})
	e.user("office", false, "office")
	e.member("alice")
	e.member("eve")
	m := e.create("alice", "Differing view", "The analysis omits the 2011 data.")
	e.sign("alice", m.ID, m.Revision)
	e.submit("alice", m.ID, m.Revision)
	e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "reply"), map[string]string{"body": "We keep the analysis."})
	return e, m
}

// TestAppealOverHTTP: POST /api/v1/memos/{id}/appeal under the NRC
// profile, with the status codes of API.md: 200 and the appealed memo for
// its drafter, 400 for an unknown field, 422 without a reason, 403 for
// the office, 404 for someone the memo is not for, 409 once the decision
// on appeal is given.
func TestAppealOverHTTP(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e, m := nrcReplied(t, st)

		path := memoPath(m.ID, "appeal")
		problemOf(t, e.must(http.StatusBadRequest, "alice", "POST", path, map[string]string{"reason": "R.", "extra": "x"}))
		if p := problemOf(t, e.must(http.StatusUnprocessableEntity, "alice", "POST", path, map[string]string{"reason": ""})); len(p.Errors) == 0 || p.Errors[0].Field != "reason" {
			t.Errorf("an appeal without a reason: %+v, want an error on reason", p)
		}
		problemOf(t, e.must(http.StatusForbidden, "office", "POST", path, map[string]string{"reason": "R."}))
		problemOf(t, e.must(http.StatusNotFound, "eve", "POST", path, map[string]string{"reason": "R."}))

		e.h.Clock.Advance(time.Minute)
		got := decode[service.Memo](t, e.must(http.StatusOK, "alice", "POST", path, map[string]string{"reason": "The 2011 data."}))
		if got.State != "appealed" || got.Appeal == nil || got.Appeal.Reason != "The 2011 data." || got.Deadlines.AppealReplyBy == nil {
			t.Fatalf("the appealed memo: state %s, appeal %+v, deadlines %+v", got.State, got.Appeal, got.Deadlines)
		}
		problemOf(t, e.must(http.StatusConflict, "office", "POST", memoPath(m.ID, "reply"), map[string]string{"body": "A first answer."}))
		problemOf(t, e.must(http.StatusForbidden, "alice", "POST", memoPath(m.ID, "decision"), map[string]string{"body": "Self-decided."}))
		e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "decision"), map[string]string{"body": "On appeal: unchanged."})
		if p := problemOf(t, e.must(http.StatusConflict, "alice", "POST", path, map[string]string{"reason": "Again."})); !strings.Contains(p.Detail, "appealed already") {
			t.Errorf("a second appeal: %q", p.Detail)
		}
		if r := e.read("alice", m.ID); r.Appeal == nil || r.Appeal.Decision == nil || r.Appeal.Decision.Body != "On appeal: unchanged." || r.Reply.Body != "We keep the analysis." {
			t.Errorf("the memo after the decision: reply %+v, appeal %+v", r.Reply, r.Appeal)
		}
	})
}

// TestPublicationOverHTTP: the NRC profile's publication of closed cases
// through the API: 409 until every drafter agreed, 403 for a drafter
// asking to publish, 201 and the publication for the office, which
// anyone signed in then lists and reads; 404 for a case not published.
func TestPublicationOverHTTP(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e, m := nrcReplied(t, st)
		e.must(http.StatusOK, "office", "POST", memoPath(m.ID, "close"), nil)
		e.h.Clock.Set(e.h.Clock.Now().Add(22 * 24 * time.Hour))
		e.signInAgain()

		problemOf(t, e.must(http.StatusConflict, "office", "POST", memoPath(m.ID, "publish"), nil))
		got := decode[service.Memo](t, e.must(http.StatusOK, "alice", "POST", memoPath(m.ID, "publication", "consent"), nil))
		if got.Publication == nil || got.Publication.Agreed != 1 || got.Publication.Drafters != 1 {
			t.Errorf("after agreeing: %+v", got.Publication)
		}
		problemOf(t, e.must(http.StatusForbidden, "alice", "POST", memoPath(m.ID, "publish"), nil))
		p := decode[service.Publication](t, e.must(http.StatusCreated, "office", "POST", memoPath(m.ID, "publish"), nil))
		if p.MemoID != m.ID || p.Body != "The analysis omits the 2011 data." || p.Reply == nil {
			t.Errorf("the publication: %+v", p)
		}
		list := decode[service.PublicationPage](t, e.must(http.StatusOK, "eve", "GET", "/api/v1/publications?limit=10", nil))
		if len(list.Items) != 1 || list.Items[0].Title != "Differing view" {
			t.Errorf("the list: %+v", list)
		}
		if read := decode[service.Publication](t, e.must(http.StatusOK, "eve", "GET", "/api/v1/publications/"+m.ID, nil)); read.ContentHash != p.ContentHash {
			t.Errorf("eve reads %+v", read)
		}
		problemOf(t, e.must(http.StatusNotFound, "eve", "GET", "/api/v1/publications/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil))
		problemOf(t, e.must(http.StatusUnprocessableEntity, "eve", "GET", "/api/v1/publications?limit=0", nil))
		problemOf(t, e.must(http.StatusUnauthorized, "", "GET", "/api/v1/publications", nil))
	})
}
