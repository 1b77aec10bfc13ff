package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestReview77AdminOpensEveryAccount: the administrator's page of one
// account (and the forms that save it and reset its password) finds the
// account by searching the directory for its username and taking the first
// 200 matches, ordered by username. The search also matches display names,
// so in a directory of the planned size (tens of thousands) an account
// whose username is a common fragment of names ("lina", "li", "ann") lies
// beyond those 200 and its page, linked from the users list, answers 404.
func TestReview77AdminOpensEveryAccount(t *testing.T) {
	s := newSite(t)
	for i := 0; i < 201; i++ {
		u := fmt.Sprintf("a%03d", i)
		if _, err := s.Svc.CreateUser(s.Ctx, s.Admin, service.NewUser{Username: u, DisplayName: fmt.Sprintf("Lina Person %d", i),
			Email: u + "@example.test", Password: servicetest.InitialPassword(u), Roles: []string{"member"}, Eligible: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Svc.CreateUser(s.Ctx, s.Admin, service.NewUser{Username: "lina", DisplayName: "Lina Lindqvist",
		Email: "lina@example.test", Password: servicetest.InitialPassword("lina"), Roles: []string{"member"}, Eligible: true}); err != nil {
		t.Fatal(err)
	}
	admin := s.signedIn(t, "admin")
	if res := admin.get("/admin/users/lina"); res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Lina Lindqvist") {
		t.Errorf("the administrator opens the account lina: status %d, want 200 with the account", res.StatusCode)
	}
	res := admin.post("/admin/users/lina/password", url.Values{"password": {"short"}})
	if res.StatusCode == http.StatusNotFound {
		t.Errorf("a refused password reset for lina answers 404 instead of the form with its error")
	}
}

// TestReview77DueInZeroWorkingDays: a deadline counted in calendar days
// (the EU profile's 7 days to acknowledge, the NRC's 120 days to reply)
// can fall on a weekend. The day before, the office's inbox and the memo's
// page say it is "Due in 0 working days" (in German "Fällig in 0
// Arbeitstagen"), which reads as due now or overdue, though it is a day
// or two away (office.go, due).
func TestReview77DueInZeroWorkingDays(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "eu-2019-1937"})
	// Saturday 7 March 2026, 10:00 in the office's zone: the
	// acknowledgement is due on Saturday 14 March.
	s.Clock.Set(time.Date(2026, 3, 7, 10, 0, 0, 0, servicetest.Office))
	m := s.submitted(t, "Invoices split under the threshold")
	if got := m.Deadlines.AcknowledgeBy.In(servicetest.Office).Weekday(); got != time.Saturday {
		t.Fatalf("set-up: acknowledgement due on a %s", got)
	}
	s.Clock.Set(time.Date(2026, 3, 13, 10, 0, 0, 0, servicetest.Office)) // Friday
	office := s.signedIn(t, "office")
	for _, p := range []string{"/office", "/memos/" + m.ID} {
		res := office.get(p)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
		if strings.Contains(res.body, "Due in 0 working days") {
			t.Errorf("%s says the acknowledgement due tomorrow is \"Due in 0 working days\"", p)
		}
	}
}

// TestReview77SuppressedCountsInGerman: the figures page prints each
// published count as the service's String gives it: a number, "<5", or the
// English word "suppressed" for a count hidden to protect people (every
// signer band until the year is over, and complementary suppression). Under
// German the page's words are German, but the hidden cells say
// "suppressed" in English (audit.go figuresFor, chart.go newChart).
func TestReview77SuppressedCountsInGerman(t *testing.T) {
	s := newSite(t)
	for i := 0; i < 6; i++ {
		s.submitted(t, fmt.Sprintf("Memo %d", i))
	}
	for _, who := range []string{"audrey", "office", "admin"} {
		b := s.signedIn(t, who)
		b.lang = "de"
		page := "/figures"
		if who == "audrey" {
			page = "/audit"
		}
		res := b.get(page)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `lang="de"`) {
			t.Fatalf("%s %s: status %d", who, page, res.StatusCode)
		}
		if n := strings.Count(res.body, ">suppressed<"); n > 0 {
			t.Errorf("%s's %s in German shows %d hidden counts as the English word \"suppressed\"", who, page, n)
		}
	}
}

// TestReview77LanguageSwitchAfterRefusedForm: a form that is refused is
// shown again at the address it posted to, and the layout's language
// switch sends the visitor back to that address (next = the request's
// path). Many of those addresses take only POST (/account/password,
// /memos/{id}/comment, /memos/{id}/revoke, ...), so someone who switches
// to German to read the error lands on "Not found" instead.
func TestReview77LanguageSwitchAfterRefusedForm(t *testing.T) {
	s := newSite(t)
	m := s.submitted(t, "Consular staffing")
	nextRe := regexp.MustCompile(`name="next" value="([^"]*)"`)
	for _, c := range []struct {
		who, path string
		form      url.Values
	}{
		{"alice", "/account/password", url.Values{"current_password": {servicetest.Password("alice")}, "new_password": {"a-new-password-1"}, "confirm_password": {"another-password-2"}}},
		{"p1", "/memos/" + m.ID + "/comment", url.Values{"body": {""}}},
		{"office", "/memos/" + m.ID + "/messages", url.Values{"body": {""}}},
	} {
		b := s.signedIn(t, c.who)
		res := b.post(c.path, c.form)
		if res.StatusCode < 400 || res.StatusCode == http.StatusNotFound {
			t.Fatalf("%s %s: status %d, want the form shown again with its error", c.who, c.path, res.StatusCode)
		}
		next := nextRe.FindStringSubmatch(res.body)
		if next == nil {
			t.Fatalf("%s %s: no language switch", c.who, c.path)
		}
		sw := b.post("/language", url.Values{"lang": {"de"}, "next": {html.UnescapeString(next[1])}})
		if sw.StatusCode != http.StatusSeeOther {
			t.Fatalf("language switch: %d", sw.StatusCode)
		}
		if got := b.get(sw.Header.Get("Location")); got.StatusCode != http.StatusOK {
			t.Errorf("%s switched the language on the refused form at %s and was sent to %s: status %d",
				c.who, c.path, sw.Header.Get("Location"), got.StatusCode)
		}
	}
}

// TestReview77NewOfficeMemberStartPage: an account just given the office
// role can read nothing until a current member lets them in. Signing in,
// the start page sends them to the office inbox, which answers 403 "You
// may not do this. Your role does not allow this step." (the service's
// reason only in English beneath): the role does allow it, and the page
// that says what they wait for (their account: "Waiting for a current
// office member to let you in") is never shown (routes.go, home; web.go,
// fail).
func TestReview77NewOfficeMemberStartPage(t *testing.T) {
	s := newSite(t)
	s.submitted(t, "A memo for the office")
	s.Create("olga", false, "office")
	olga := s.signedIn(t, "olga")
	olga.lang = "de"
	res := olga.get("/")
	for i := 0; i < 3 && res.StatusCode == http.StatusSeeOther; i++ {
		res = olga.get(res.Header.Get("Location"))
	}
	if res.StatusCode != http.StatusOK {
		t.Errorf("a new office member's start page answers %d", res.StatusCode)
	}
	if strings.Contains(res.body, "Ihre Rolle erlaubt diesen Schritt nicht") || strings.Contains(res.body, "Your role does not allow this step") {
		t.Error("a new office member's start page says their role does not allow it, not that they wait to be let in")
	}
}

// TestReview77SignerListAfterSubmission: in "My memos", every memo on
// which the visitor is a signer says "You are invited to sign", whatever
// its state: a co-signer whose memo was submitted, acknowledged and
// answered long ago is still told that their signature is asked
// (templates/pages/memos.html).
func TestReview77SignerListAfterSubmission(t *testing.T) {
	s := newSite(t)
	m := s.seedMemo(t) // carol signed; submitted and acknowledged
	carol := s.signedIn(t, "carol")
	res := carol.get("/memos")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "/memos/"+m.ID) {
		t.Fatalf("carol's list: %d", res.StatusCode)
	}
	if strings.Contains(res.body, "You are invited to sign") {
		t.Error("carol's list says she is invited to sign a memo she signed and that was submitted and acknowledged")
	}
}
