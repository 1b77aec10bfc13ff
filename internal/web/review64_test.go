package web

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestReview64PublishedCaseTitleNotInPageTitle: the package's rule is that
// a page's <title> is a fixed, translated name and never a memo's title
// (web.go, view.Title; TestTitlesNeverNameAMemo checks the memo pages).
// The <title> ends up in the browser's history, the window title and the
// task switcher, which outlive the session and the no-store cache, and are
// seen by whoever uses the machine next without signing in. The page of a
// published case puts the memo's title there.
func TestReview64PublishedCaseTitleNotInPageTitle(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "nrc-dpo"})
	m := s.submitted(t, "Zebra crossing safety margins")
	office := s.actor("office")
	if _, err := s.Svc.Reply(s.Ctx, office, m.ID, "We keep our position."); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Svc.Close(s.Ctx, office, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Svc.AgreeToPublish(s.Ctx, s.actor("alice"), m.ID); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(60 * 24 * time.Hour) // past the time to appeal
	if _, err := s.Svc.Publish(s.Ctx, s.actor("office"), m.ID); err != nil {
		t.Fatal(err)
	}
	bob := s.signedIn(t, "bob")
	res := bob.get("/published/" + m.ID)
	if !strings.Contains(res.body, "Zebra crossing") {
		t.Fatalf("the published case is not shown: %d", res.StatusCode)
	}
	title := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(res.body)
	if title == nil || strings.Contains(title[1], "Zebra") {
		t.Errorf("the published case's page title names the memo: %q", title)
	}
}
