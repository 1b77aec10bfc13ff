package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
)

// TestMessagesOverHTTP: POST /api/v1/memos/{id}/messages with API.md's
// status codes: 201 and the memo for the office and the authors, 400 for
// an unknown field, 422 for an empty body, 403 for a reader, 404 for
// someone the memo is not for, 409 for a draft.
func TestMessagesOverHTTP(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.user("office", false, "office")
		e.user("p1", false, "principal")
		e.member("alice")
		e.member("eve")
		e.distribute("p1")
		m := e.create("alice", "Differing view", "The analysis omits the 2011 data.")
		path := memoPath(m.ID, "messages")
		problemOf(t, e.must(http.StatusConflict, "alice", "POST", path, map[string]string{"body": "Too early."}))
		e.sign("alice", m.ID, m.Revision)
		e.submit("alice", m.ID, m.Revision)

		problemOf(t, e.must(http.StatusBadRequest, "office", "POST", path, map[string]string{"body": "Hello", "to": "alice"}))
		if p := problemOf(t, e.must(http.StatusUnprocessableEntity, "office", "POST", path, map[string]string{"body": ""})); len(p.Errors) == 0 || p.Errors[0].Field != "body" {
			t.Errorf("an empty message: %+v, want an error on body", p)
		}
		problemOf(t, e.must(http.StatusForbidden, "p1", "POST", path, map[string]string{"body": "Hello"}))
		problemOf(t, e.must(http.StatusNotFound, "eve", "POST", path, map[string]string{"body": "Hello"}))
		got := decode[service.Memo](t, e.must(http.StatusCreated, "office", "POST", path, map[string]string{"body": "Which data?"}))
		if len(got.Messages) != 1 || got.Messages[0].From != "office" {
			t.Fatalf("the office's message: %+v", got.Messages)
		}
		e.h.Clock.Advance(time.Minute)
		got = decode[service.Memo](t, e.must(http.StatusCreated, "alice", "POST", path, map[string]string{"body": "The 2011 survey."}))
		if len(got.Messages) != 2 || got.Messages[1].From != "authors" || got.Messages[1].Author != "alice" {
			t.Fatalf("the author's answer: %+v", got.Messages)
		}
		if r := e.read("p1", m.ID); len(r.Messages) != 0 {
			t.Errorf("a reader sees the messages: %+v", r.Messages)
		}
	})
}
