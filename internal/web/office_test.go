package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func TestRevokeReader(t *testing.T) {
	s := newSite(t)
	s.Principal("p3")
	m := s.seedMemo(t)
	if _, err := s.Svc.AddReaders(s.Ctx, s.Office, m.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "Leads the talks."}); err != nil {
		t.Fatal(err)
	}
	page := "/memos/" + m.ID
	form := `action="/memos/` + m.ID + `/revoke"`
	office, p3 := s.signedIn(t, "office"), s.signedIn(t, "p3")
	if res := p3.get(page); res.StatusCode != http.StatusOK {
		t.Fatalf("the added reader cannot read: %d", res.StatusCode)
	}

	t.Run("the office sees a form beside each added reader", func(t *testing.T) {
		body := office.get(page).body
		if n := strings.Count(body, form); n != 1 {
			t.Errorf("%d removal forms, want 1 (p3; p1 and p2 are the standing distribution)", n)
		}
		for _, want := range []string{`name="username" value="p3"`, "Remove from distribution", "They keep what they already read; what is written from now on is sealed with a new key.", `id="revoke-reason-p3" name="reason" rows="3" maxlength="4000" required`} {
			if !strings.Contains(body, want) {
				t.Errorf("the memo page lacks %q", want)
			}
		}
		for _, who := range []string{"alice", "p1"} {
			if strings.Contains(s.signedIn(t, who).get(page).body, form) {
				t.Errorf("%s sees the removal form", who)
			}
		}
	})
	t.Run("a reason is required", func(t *testing.T) {
		res := office.post(page+"/revoke", url.Values{"username": {"p3"}, "reason": {" "}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", res.StatusCode)
		}
		if !strings.Contains(res.body, `<details class="revoke" open>`) || !strings.Contains(res.body, `class="problem"`) {
			t.Error("the form is not shown open again with the problem")
		}
		if p3.get(page).StatusCode != http.StatusOK {
			t.Error("p3 was removed without a reason")
		}
	})
	t.Run("only the office may remove", func(t *testing.T) {
		res := s.signedIn(t, "p1").post(page+"/revoke", url.Values{"username": {"p3"}, "reason": {"Because."}})
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a principal removing a reader: status %d", res.StatusCode)
		}
		if p3.get(page).StatusCode != http.StatusOK {
			t.Error("a principal removed a reader")
		}
	})
	t.Run("removed", func(t *testing.T) {
		res := office.post(page+"/revoke", url.Values{"username": {"p3"}, "reason": {"Moved to another post."}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page {
			t.Fatalf("status %d to %q: %s", res.StatusCode, res.Header.Get("Location"), res.body)
		}
		body := office.get(page).body
		for _, want := range []string{"The reader is removed from the distribution", "Reader taken off"} {
			if !strings.Contains(body, want) {
				t.Errorf("the memo page lacks %q", want)
			}
		}
		if strings.Contains(body, form) || strings.Contains(body, "Display p3") {
			t.Error("p3 is still on the distribution")
		}
		if res := p3.get(page); res.StatusCode != http.StatusNotFound {
			t.Errorf("p3 after removal: status %d", res.StatusCode)
		}
		again := office.post(page+"/revoke", url.Values{"username": {"p3"}, "reason": {"Again."}})
		if again.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("removing twice: status %d", again.StatusCode)
		}
	})
}

// p1StartsAfresh: p1's password is reset and p1 starts afresh under
// "p1's own new phrase"; the new keys await the office.
func p1StartsAfresh(t *testing.T, s *site) {
	t.Helper()
	if err := s.Svc.ResetPassword(s.Ctx, s.Admin, "p1", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Svc.NewKeys(s.Ctx, s.SignInOn(s.Svc, "p1", "temporary-password-1"), "temporary-password-1", "p1's own new phrase"); err != nil {
		t.Fatal(err)
	}
}

// TestConfirmKeys: the office's members page lists an account whose keys
// were made afresh after a reset, explains why they wait, and confirms
// them; an administrator in the office sees why they may not.
func TestConfirmKeys(t *testing.T) {
	s := newSite(t)
	p1StartsAfresh(t, s)
	office := s.signedIn(t, "office")
	if body := office.get("/notifications").body; !strings.Contains(body, "await the office") || !strings.Contains(body, `href="/office/members"`) {
		t.Error("the office's notices do not say that new keys await its confirmation, with a link to the members page")
	}
	form := `action="/office/members/confirm-keys"`
	body := office.get("/office/members").body
	for _, want := range []string{"Keys awaiting your confirmation", form, `name="username" value="p1"`, `name="principal" value="1"`, "Confirm the keys of Display p1", "Principal"} {
		if !strings.Contains(body, want) {
			t.Errorf("the members page lacks %q", want)
		}
	}
	res := s.signedIn(t, "alice").post("/office/members/confirm-keys", url.Values{"username": {"p1"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a member confirming keys: status %d", res.StatusCode)
	}
	me, err := s.Svc.Me(s.Ctx, s.SignInOn(s.Svc, "p1", "p1's own new phrase"))
	if err != nil {
		t.Fatal(err)
	}
	p1 := s.signedInWith(t, "p1", "p1's own new phrase")
	const awaiting = "New, and not yet confirmed by the channel office"
	if body := p1.get("/account").body; !strings.Contains(body, "<code>"+me.KeysFingerprint+"</code>") || !strings.Contains(body, awaiting) {
		t.Errorf("p1's account page does not show the fingerprint %q and that the keys await the office", me.KeysFingerprint)
	}
	res = office.post("/office/members/confirm-keys", url.Values{"username": {"p1"}, "principal": {"1"}, "fingerprint": {"0000 0000 0000 0000 0000"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="fp-error-p1"`) || !strings.Contains(res.body, `aria-invalid="true"`) {
		t.Errorf("a wrong fingerprint: status %d, the form not shown again with the problem at the field", res.StatusCode)
	}
	res = office.post("/office/members/confirm-keys", url.Values{"username": {"p1"}, "principal": {"1"}, "fingerprint": {me.KeysFingerprint}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/office/members" {
		t.Fatalf("confirming: status %d to %q: %s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	body = office.get("/office/members").body
	for _, want := range []string{"The keys are confirmed", "keys are confirmed or need no confirmation."} {
		if !strings.Contains(body, want) {
			t.Errorf("the members page after confirming lacks %q", want)
		}
	}
	if strings.Contains(body, form) {
		t.Error("p1 still awaits confirmation")
	}
	if strings.Contains(p1.get("/account").body, awaiting) {
		t.Error("p1's account page still says the keys await the office")
	}
	res = office.post("/office/members/confirm-keys", url.Values{"username": {"p1"}, "principal": {"1"}, "fingerprint": {me.KeysFingerprint}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("confirming again: status %d", res.StatusCode)
	}
}

// TestWithheldReaders: the readers page shows the office a principal the
// memo was withheld from while their keys await confirmation, and the
// office may decide they are not to get it; the confirmation then gives
// them nothing.
func TestWithheldReaders(t *testing.T) {
	s := newSite(t)
	p1StartsAfresh(t, s)
	m, _ := s.Submitted(s.SignIn("alice"), "while p1 waited")
	page := "/memos/" + m.ID
	office := s.signedIn(t, "office")
	body := office.get(page + "/readers").body
	for _, want := range []string{"Waiting for their keys to be confirmed", "Display p1 (p1)", `name="withheld" value="1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the readers page lacks %q", want)
		}
	}
	if res := s.signedIn(t, "alice").get(page + "/readers"); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
		t.Errorf("an author opening the office's readers page: status %d", res.StatusCode)
	}
	res := office.post(page+"/revoke", url.Values{"username": {"p1"}, "withheld": {"1"}, "reason": {"The memo is about p1."}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page {
		t.Fatalf("not giving it to p1: status %d to %q: %s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	if body := office.get(page).body; !strings.Contains(body, "They will not be given this memo when their keys are confirmed") {
		t.Error("the memo page does not confirm that p1 will not be given it")
	}
	if strings.Contains(office.get(page+"/readers").body, "Waiting for their keys to be confirmed") {
		t.Error("p1 is still listed as waiting for the memo")
	}
	me, err := s.Svc.Me(s.Ctx, s.SignInOn(s.Svc, "p1", "p1's own new phrase"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Svc.ConfirmKeys(s.Ctx, s.Office, "p1", service.KeyConfirmation{Fingerprint: me.KeysFingerprint, Principal: true}); err != nil {
		t.Fatal(err)
	}
	if res := s.signedInWith(t, "p1", "p1's own new phrase").get(page); res.StatusCode != http.StatusNotFound {
		t.Errorf("p1 reads the memo the office decided not to give them: status %d", res.StatusCode)
	}
}

// TestPrincipalAwaitsTheOffice: a principal the administrator puts on the
// standing distribution awaits the office's confirmation of their keys.
// The administrator's page, the principal's account and the office's
// members page each say so, until a member of the office confirms them.
func TestPrincipalAwaitsTheOffice(t *testing.T) {
	s := newSite(t)
	p3 := s.Create("p3", false, "principal")
	admin := s.signedIn(t, "admin")
	res := admin.post("/admin/distribution", url.Values{"usernames": {"p1\np2\np3"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the distribution: status %d: %s", res.StatusCode, res.body)
	}
	const waiting = "Waiting for the channel office to confirm their keys: p3</p>"
	if body := admin.get("/admin/distribution").body; !strings.Contains(body, waiting) {
		t.Error("the distribution page does not say that p3 awaits the office")
	}
	const memos = "As a principal, you receive memos only once"
	principal := s.signedIn(t, "p3")
	if body := principal.get("/account").body; !strings.Contains(body, memos) {
		t.Error("p3's account page does not say that memos wait for the office's confirmation")
	}
	office := s.signedIn(t, "office")
	if body := office.get("/office/members").body; !strings.Contains(body, `name="username" value="p3"`) {
		t.Fatal("the office's members page does not offer to confirm p3's keys")
	}
	me, err := s.Svc.Me(s.Ctx, p3)
	if err != nil {
		t.Fatal(err)
	}
	if res := office.post("/office/members/confirm-keys", url.Values{"username": {"p3"}, "principal": {"1"}, "fingerprint": {me.KeysFingerprint}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming p3: status %d: %s", res.StatusCode, res.body)
	}
	if strings.Contains(admin.get("/admin/distribution").body, "Waiting for the channel office") {
		t.Error("the distribution page still says p3 awaits the office")
	}
	if strings.Contains(principal.get("/account").body, memos) {
		t.Error("p3's account page still says memos wait")
	}
}

// unfoundedSite serves a deployment whose office is not founded yet, and
// where an administrator has made its first member, ruth, who has not
// signed in.
func unfoundedSite(t *testing.T) *site {
	t.Helper()
	h := servicetest.New(t, storetest.OpenSQLite(t))
	mux := http.NewServeMux()
	Register(mux, h.Svc, Options{Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "ruth", DisplayName: "Ruth Hale", Email: "ruth@example.test",
		Password: servicetest.InitialPassword("ruth"), Roles: []string{"office"}}); err != nil {
		t.Fatal(err)
	}
	return &site{Deployment: &servicetest.Deployment{Harness: h}, srv: srv}
}

// TestOfficeAwaitsItsFounding: the office's first member, before the
// custodians found the office, is told so on their account page, beside
// the fingerprint they read them, and the office's pages say why they are
// closed; once founded, access is granted.
func TestOfficeAwaitsItsFounding(t *testing.T) {
	s := unfoundedSite(t)
	h := s.Harness
	h.Enrol("ruth")
	ruth := s.signedIn(t, "ruth")
	const unfounded = "The channel office is not founded yet"
	account := ruth.get("/account").body
	if !strings.Contains(account, unfounded) || !strings.Contains(account, "Your keys&#39; fingerprint") {
		t.Errorf("ruth's account page does not say the office awaits its founding, beside her fingerprint:\n%s", account)
	}
	if !strings.Contains(account, "Your keys were made</dt><dd><time datetime=") {
		t.Error("ruth's account page does not say when her keys were made")
	}
	if res := ruth.get("/office"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "not founded yet") {
		t.Errorf("the office's inbox before the founding: status %d, want 403 saying why", res.StatusCode)
	}
	h.Found("ruth")
	if body := ruth.get("/account").body; strings.Contains(body, unfounded) || !strings.Contains(body, "Granted") {
		t.Error("ruth's account page after the founding does not say her access is granted")
	}
	if res := ruth.get("/office"); res.StatusCode != http.StatusOK {
		t.Errorf("the office's inbox after the founding: status %d", res.StatusCode)
	}
}

// TestBrowserFirstOfficeMember: the office's first member signs in for the
// first time in a real browser, as at the ceremony, chooses their own
// password, and their account page says the office awaits its founding
// beside the fingerprint they read the custodians; once founded, it says
// their access is granted. axe-core checks the page.
func TestBrowserFirstOfficeMember(t *testing.T) {
	s := unfoundedSite(t)
	h := s.Harness
	c := startChrome(t, s.srv.URL, os.Getenv("DISSENT_SCREENSHOTS") != "")
	defer c.checkConsole()
	ruth := c.person(t, "ruth")
	ruth.signIn("ruth", servicetest.InitialPassword("ruth"))
	ruth.see("Choose your own password")
	ruth.typeInto("#current_password", servicetest.InitialPassword("ruth"))
	ruth.typeInto("#new_password", servicetest.Password("ruth"))
	ruth.typeInto("#confirm_password", servicetest.Password("ruth"))
	ruth.click("form[action='/account/password'] button[type=submit]")
	ruth.open("/account")
	me, err := h.Svc.Me(h.Ctx, h.SignIn("ruth"))
	if err != nil {
		t.Fatal(err)
	}
	ruth.see("The channel office is not founded yet", me.KeysFingerprint)
	ruth.check("office-unfounded")
	h.Found("ruth")
	ruth.open("/account")
	ruth.see("Granted")
	if strings.Contains(ruth.text("main"), "not founded yet") {
		t.Error("the account page still says the office is not founded")
	}
}
