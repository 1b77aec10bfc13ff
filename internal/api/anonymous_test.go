package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
)

// TestAnonymousReportOverHTTP: POST /api/v1/memos with "anonymous": true
// under the EU profile makes a report whose author the office is not
// told: 201 and "anonymous" for its author, who is listed among its
// authors; 422 on "anonymous" under a profile without anonymous reports
// and with co-drafters; 422 on "usernames" for co-signers; the office's
// GET shows "anonymous" and no author, and no field of it names them.
func TestAnonymousReportOverHTTP(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		state := newEnv(t, st)
		state.member("carol")
		if p := problemOf(t, state.must(http.StatusUnprocessableEntity, "carol", "POST", "/api/v1/memos", map[string]any{"title": "T", "body": "B", "marking": "UNCLASSIFIED", "anonymous": true})); len(p.Errors) == 0 || p.Errors[0].Field != "anonymous" {
			t.Errorf("an anonymous report under the State profile: %+v", p)
		}
	})
	bothStores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		e.user("office", false, "office")
		e.member("alice")
		e.member("bob")
		problemOf(t, e.must(http.StatusUnprocessableEntity, "alice", "POST", "/api/v1/memos", map[string]any{"title": "T", "body": "B", "marking": "UNCLASSIFIED", "anonymous": true, "codrafters": []string{"bob"}}))
		m := decode[service.Memo](t, e.must(http.StatusCreated, "alice", "POST", "/api/v1/memos", map[string]any{"title": "Split invoices", "body": "The unit splits invoices.", "marking": "UNCLASSIFIED", "anonymous": true}))
		if !m.Anonymous || len(m.Authors) != 1 || m.Authors[0].Username != "alice" {
			t.Fatalf("the author's anonymous draft: anonymous %v, authors %+v", m.Anonymous, m.Authors)
		}
		if p := problemOf(t, e.must(http.StatusUnprocessableEntity, "alice", "POST", memoPath(m.ID, "signers"), map[string]any{"usernames": []string{"bob"}})); len(p.Errors) == 0 || p.Errors[0].Field != "usernames" || !strings.Contains(p.Errors[0].Message, "one author") {
			t.Errorf("co-signers for an anonymous report: %+v", p)
		}
		e.sign("alice", m.ID, m.Revision)
		e.submit("alice", m.ID, m.Revision)
		res := e.must(http.StatusOK, "office", "GET", memoPath(m.ID, ""), nil)
		body := string(res.body)
		got := decode[service.Memo](t, res)
		if !got.Anonymous || len(got.Authors) != 0 || !strings.Contains(body, `"authors":[]`) {
			t.Errorf("the office's view: anonymous %v, authors %+v", got.Anonymous, got.Authors)
		}
		for _, s := range []string{"alice", "Display alice", e.h.SignIn("alice").User.ID} {
			if strings.Contains(body, s) {
				t.Errorf("the office's view names the author (%q):\n%s", s, body)
			}
		}
		if spec := string(e.must(http.StatusOK, "office", "GET", "/api/v1/openapi.json", nil).body); !strings.Contains(spec, `"anonymous"`) {
			t.Error("the OpenAPI document does not list the anonymous field")
		}
	})
}
