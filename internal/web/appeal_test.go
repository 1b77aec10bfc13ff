package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestAppealPages: under the NRC profile a drafter sees "Appeal the reply"
// while the time to appeal runs, sends an appeal with a reason, and the
// office sees the appeal and decides it from the memo's page; a reader
// sees no appeal form, and after the decision the drafter neither.
func TestAppealPages(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "nrc-dpo"})
	m := s.submitted(t, "Appeal me")
	if _, err := s.Svc.Reply(s.Ctx, s.actor("office"), m.ID, "We keep our position."); err != nil {
		t.Fatal(err)
	}
	alice, office, p1 := s.signedIn(t, "alice"), s.signedIn(t, "office"), s.signedIn(t, "p1")
	page := alice.get("/memos/" + m.ID)
	if !strings.Contains(page.body, `href="/memos/`+m.ID+`/appeal"`) || !strings.Contains(page.body, "Appeal by") {
		t.Fatalf("the drafter's page after the reply offers no appeal:\n%s", page.body)
	}
	if strings.Contains(p1.get("/memos/"+m.ID).body, "/appeal") {
		t.Error("a reader is offered the appeal")
	}
	if form := alice.get("/memos/" + m.ID + "/appeal"); form.StatusCode != http.StatusOK || !strings.Contains(form.body, "Send the appeal") || !strings.Contains(form.body, "You may appeal until") {
		t.Fatalf("the appeal form: %d\n%s", form.StatusCode, form.body)
	}
	if res := alice.post("/memos/"+m.ID+"/appeal", url.Values{"reason": {""}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an appeal without a reason: %d", res.StatusCode)
	}
	if res := alice.post("/memos/"+m.ID+"/appeal", url.Values{"reason": {"The panel missed the 2011 data."}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the appeal: %d\n%s", res.StatusCode, res.body)
	}
	page = office.get("/memos/" + m.ID)
	for _, want := range []string{"The authors&#39; appeal", "The panel missed the 2011 data.", "Decide the appeal", "Decision on appeal"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the office's page lacks %q", want)
		}
	}
	if inbox := office.get("/office").body; !strings.Contains(inbox, "Appeal me") || !strings.Contains(inbox, "Decision on appeal") {
		t.Errorf("the office's inbox does not list the appeal as owing a decision:\n%s", inbox)
	}
	s.Clock.Advance(time.Minute)
	if res := office.post("/memos/"+m.ID+"/decision", url.Values{"body": {"On appeal: unchanged."}, "action": {"send"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the decision: %d\n%s", res.StatusCode, res.body)
	}
	page = alice.get("/memos/" + m.ID)
	if !strings.Contains(page.body, "The decision on appeal") || !strings.Contains(page.body, "On appeal: unchanged.") || strings.Contains(page.body, "/appeal\"") {
		t.Errorf("the drafter's page after the decision:\n%s", page.body)
	}
}

// TestHelpSaysWhatThePolicyAllows: the help page tells of appeals and
// published cases under a profile that has them, and not under one that
// has not.
func TestHelpSaysWhatThePolicyAllows(t *testing.T) {
	for _, c := range []struct {
		profile string
		want    bool
	}{{"nrc-dpo", true}, {"state-2fam070", false}} {
		s := newSite(t, servicetest.Options{Profile: c.profile})
		help := s.signedIn(t, "alice").get("/help").body
		for _, phrase := range []string{"owes a decision on your appeal", "if every drafter agreed"} {
			if strings.Contains(help, phrase) != c.want {
				t.Errorf("%s: the help page has %q: %v, want %v", c.profile, phrase, !c.want, c.want)
			}
		}
	}
}

// TestFiguresShowAppealsWhereThePolicyHasThem: the figures page charts
// the decisions on appeal under the NRC profile, and under the State
// profile shows neither those charts nor an "Appealed" state it never
// reaches.
func TestFiguresShowAppealsWhereThePolicyHasThem(t *testing.T) {
	for _, c := range []struct {
		profile string
		want    bool
	}{{"nrc-dpo", true}, {"state-2fam070", false}} {
		s := newSite(t, servicetest.Options{Profile: c.profile})
		page := s.signedIn(t, "office").get("/figures").body
		for _, phrase := range []string{"Decisions on appeal still owed", ">Appealed<"} {
			if strings.Contains(page, phrase) != c.want {
				t.Errorf("%s: the figures page has %q: %v, want %v", c.profile, phrase, !c.want, c.want)
			}
		}
	}
}
