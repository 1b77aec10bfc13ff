package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestAnonymousReportPages: under the EU profile a member ticks "File this
// report anonymously" on the new-memo form; their page says the office
// does not see their name; the office's and a reader's pages say the
// report is anonymous and name no one, and a meeting about it is recorded
// with the reporter, unnamed. Under the State profile the form has no such
// box.
func TestAnonymousReportPages(t *testing.T) {
	if form := newSite(t).signedIn(t, "alice").get("/memos/new").body; strings.Contains(form, `name="anonymous"`) {
		t.Error("the State profile's new-memo form offers an anonymous report")
	}
	s := newSite(t, servicetest.Options{Profile: "eu-2019-1937"})
	alice, office, p1 := s.signedIn(t, "alice"), s.signedIn(t, "office"), s.signedIn(t, "p1")
	if form := alice.get("/memos/new").body; !strings.Contains(form, "File this report anonymously") {
		t.Fatalf("the EU profile's new-memo form offers no anonymous report:\n%s", form)
	}
	if help := alice.get("/help").body; !strings.Contains(help, "You may file a report anonymously") {
		t.Error("the help page does not tell of anonymous reports")
	}
	res := alice.post("/memos/new", url.Values{"title": {"Split invoices"}, "body": {"The unit splits invoices."}, "marking": {"UNCLASSIFIED"}, "anonymous": {"1"}, "action": {"save"}})
	id := memoID(t, res)
	if page := alice.get("/memos/" + id).body; !strings.Contains(page, "You filed this report anonymously") || !strings.Contains(page, "Display alice") || !strings.Contains(page, "show your receipt instead") || strings.Contains(page, "/signers\"") {
		t.Errorf("the author's page:\n%s", page)
	}
	a := s.actor("alice")
	if _, err := s.Svc.Sign(s.Ctx, a, id, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Svc.Submit(s.Ctx, a, id, 1); err != nil {
		t.Fatal(err)
	}
	if form := office.get("/memos/" + id + "/meeting").body; !strings.Contains(form, "recorded as one with the reporter") || strings.Contains(form, `name="attendees"`) {
		t.Errorf("the meeting form of an anonymous report:\n%s", form)
	}
	if res := office.post("/memos/"+id+"/meeting", url.Values{"date": {"2026-12-01"}, "time": {"10:00"}, "minutes": {"30"}, "principal": {"p1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a meeting with the reporter: %d\n%s", res.StatusCode, res.body)
	}
	for who, b := range map[string]*browser{"office": office, "p1": p1} {
		page := b.get("/memos/" + id).body
		if !strings.Contains(page, "An anonymous report: the office and the readers are not told who filed it.") || !strings.Contains(page, "met the reporter") {
			t.Errorf("%s's page of the anonymous report:\n%s", who, page)
		}
		for _, name := range []string{"alice", "Display alice"} {
			if strings.Contains(page, name) {
				t.Errorf("%s's page names the author (%q)", who, name)
			}
		}
	}
	// A co-drafter is refused on the form, with what was typed kept.
	res = alice.post("/memos/new", url.Values{"title": {"With bob"}, "body": {"B"}, "marking": {"UNCLASSIFIED"}, "anonymous": {"1"}, "codrafters": {"bob"}, "action": {"save"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "one author") || !strings.Contains(res.body, `id="anonymous" name="anonymous" value="1" checked`) {
		t.Errorf("an anonymous report with a co-drafter: %d\n%s", res.StatusCode, res.body)
	}
}

// TestMessagePages: the office writes to a memo's authors from the memo's
// page and they answer from theirs; each page shows the thread, a reader's
// shows none. Under the EU profile the office's page calls the author of an
// anonymous report "the reporter".
func TestMessagePages(t *testing.T) {
	for _, anonymous := range []bool{false, true} {
		s := newSite(t, servicetest.Options{Profile: "eu-2019-1937"})
		a := s.actor("alice")
		m, err := s.Svc.CreateMemo(s.Ctx, a, service.MemoInput{Title: "Split invoices", Body: "B", Marking: "UNCLASSIFIED", Anonymous: anonymous})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Svc.Sign(s.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Svc.Submit(s.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		alice, office, p1 := s.signedIn(t, "alice"), s.signedIn(t, "office"), s.signedIn(t, "p1")
		page := "/memos/" + m.ID
		if body := office.get(page).body; !strings.Contains(body, "Write to the authors") || !strings.Contains(body, "No messages yet.") {
			t.Fatalf("the office's page offers no message form:\n%s", body)
		}
		if res := office.post(page+"/messages", url.Values{"body": {"Which suppliers?"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the office's message: %d\n%s", res.StatusCode, res.body)
		}
		s.Clock.Advance(time.Minute)
		if body := alice.get(page).body; !strings.Contains(body, "Which suppliers?") || !strings.Contains(body, "Write to the office") {
			t.Fatalf("the author's page does not show the office's message:\n%s", body)
		}
		if res := alice.post(page+"/messages", url.Values{"body": {""}}); res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("an empty message: %d", res.StatusCode)
		}
		if res := alice.post(page+"/messages", url.Values{"body": {"Northwind and Contoso."}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the author's answer: %d\n%s", res.StatusCode, res.body)
		}
		body := office.get(page).body
		who := "alice" // a named author's username, as comments name theirs
		if anonymous {
			who = "The reporter"
		}
		if !strings.Contains(body, "Northwind and Contoso.") || !strings.Contains(body, "<strong>"+who+"</strong>") {
			t.Errorf("the office's page of the answer, by %s:\n%s", who, body)
		}
		if anonymous && strings.Contains(body, "alice") {
			t.Error("the office's page names the reporter")
		}
		if body := p1.get(page).body; strings.Contains(body, "Messages with") || strings.Contains(body, "Northwind") {
			t.Errorf("a reader's page shows the messages:\n%s", body)
		}
	}
}
