package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestStaleReplyFormIsNotTheDecision (review 53): the decision on
// appeal was simply "the office's next reply", and neither the reply form
// nor POST /reply says which answer it is meant to be. An office member
// previews a first reply ("Reply to the authors", "Send the reply");
// meanwhile a colleague (or another tab) sends the reply and the drafter
// appeals. The stale form's "Send the reply" is then accepted, with a
// 303, as the final, unappealable decision on an appeal its sender never
// saw, and the appeal is over. The decision is now a step of its own,
// posted to its own address (/decision; the API's POST .../decision), so
// a reply form sent after an appeal is refused with a 409.
func TestStaleReplyFormIsNotTheDecision(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "nrc-dpo"})
	m := s.submitted(t, "Two replies")
	officeActor, alice := s.actor("office"), s.actor("alice")
	office := s.signedIn(t, "office")
	preview := office.post("/memos/"+m.ID+"/reply", url.Values{"body": {"Our first answer, drafted before any appeal."}, "action": {"preview"}})
	if preview.StatusCode != http.StatusOK || !strings.Contains(preview.body, "Send the reply") || strings.Contains(preview.body, "Decide the appeal") {
		t.Fatalf("the preview of a first reply: %d\n%s", preview.StatusCode, preview.body)
	}
	// Meanwhile: the reply goes out from elsewhere, and the drafter appeals.
	if _, err := s.Svc.Reply(s.Ctx, officeActor, m.ID, "The reply actually sent."); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Minute)
	if _, err := s.Svc.Appeal(s.Ctx, alice, m.ID, "The reply ignores the 2011 data."); err != nil {
		t.Fatal(err)
	}
	// The stale preview's "Send the reply".
	res := office.post("/memos/"+m.ID+"/reply", url.Values{"body": {"Our first answer, drafted before any appeal."}, "action": {"send"}})
	if res.StatusCode != http.StatusConflict {
		got, _ := s.Svc.GetMemo(s.Ctx, alice, m.ID)
		decision := ""
		if got != nil && got.Appeal != nil && got.Appeal.Decision != nil {
			decision = got.Appeal.Decision.Body
		}
		t.Errorf("a reply form filled in before the appeal was sent as the decision on it: status %d, memo now %s, final decision %q",
			res.StatusCode, got.State, decision)
	}
}
