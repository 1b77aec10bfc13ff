package api_test

import (
	"net/http"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview61InvisibleTextIsNotAReason: the product requires a memo to be
// returned "with a stated reason", and channel.ValidateText/ValidateLine
// refuse a blank one ("must not be empty") and control characters,
// bidirectional embeddings, overrides and isolates. But a reason, title or
// display name made only of invisible format characters (zero-width space
// U+200B, word joiner U+2060, byte order mark U+FEFF) passes as not blank,
// and the bidirectional marks U+200E, U+200F and U+061C (Bidi_Control, like
// the U+202A..U+202E the check refuses) are stored: the office can return a
// memo with a reason its authors see as nothing, and titles can carry the
// direction marks the check means to keep out. Each must be refused (422)
// and change nothing.
func TestReview61InvisibleTextIsNotAReason(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	e.user("office", false, "office")
	e.user("p1", false, "principal")
	e.distribute("p1")
	e.member("alice")
	submitted := func() string {
		m := e.create("alice", "Scope", "Body.")
		e.sign("alice", m.ID, 1)
		e.submit("alice", m.ID, 1)
		return m.ID
	}
	m1, m2, m3, m4 := submitted(), submitted(), submitted(), submitted()

	for _, c := range []struct {
		name, who, method, path string
		body                    any
	}{
		{"return reason of zero-width spaces", "office", "POST", memoPath(m1, "return"), map[string]string{"reason": "\u200b\u200b\u200b"}},
		{"return reason of word joiners and a BOM", "office", "POST", memoPath(m2, "return"), map[string]string{"reason": "\u2060\ufeff"}},
		{"withdraw reason of zero-width spaces", "alice", "POST", memoPath(m3, "withdraw"), map[string]string{"reason": "\u200b"}},
		{"comment of zero-width spaces", "p1", "POST", memoPath(m4, "comments"), map[string]string{"body": "\u200b"}},
		{"title of zero-width spaces", "alice", "POST", "/api/v1/memos", service.MemoInput{Title: "\u200b\u200b", Body: "Body.", Marking: "UNCLASSIFIED", Codrafters: []string{}}},
		{"title with a right-to-left mark", "alice", "POST", "/api/v1/memos", service.MemoInput{Title: "Budget 2026\u200f-2027", Body: "Body.", Marking: "UNCLASSIFIED", Codrafters: []string{}}},
		{"title with an Arabic letter mark", "alice", "POST", "/api/v1/memos", service.MemoInput{Title: "Budget \u061c2026", Body: "Body.", Marking: "UNCLASSIFIED", Codrafters: []string{}}},
		{"display name of zero-width spaces", "admin", "POST", "/api/v1/users", service.NewUser{Username: "ghost", DisplayName: "\u200b", Email: "ghost@example.test", Password: "a long enough password", Roles: []string{"member"}, Eligible: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot(m1, m2, m3, m4)
			r := e.call(c.who, c.method, c.path, c.body)
			if r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: got %s, want 422 (text that shows as nothing, or a direction mark)", c.name, r)
				return
			}
			e.unchanged(c.name, before)
		})
	}
}
