package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dissent-channel/dissent/internal/demo"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestMainPages opens every main page of every role over the demo
// deployment, checks each with axe-core, and with DISSENT_SCREENSHOTS=1
// writes docs/screenshots/*.png:
//
//	DISSENT_SCREENSHOTS=1 go test ./internal/web -run TestMainPages
func TestMainPages(t *testing.T) {
	h := servicetest.New(t, storetest.OpenSQLite(t))
	if err := demo.Seed(h.Ctx, h.Svc, h.Admin, h.Shares); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux, h.Svc, Options{Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	c := startChrome(t, srv.URL, os.Getenv("DISSENT_SCREENSHOTS") != "")
	defer c.checkConsole()

	as := func(name string) *service.Actor {
		tok, _, err := h.Svc.SignIn(h.Ctx, name, demo.Password)
		if err != nil {
			t.Fatal(err)
		}
		return h.Authenticate(tok)
	}
	// Find the demo's memos by title, as their authors and the office see them.
	ids := map[string]string{}
	for _, who := range []struct{ name, box string }{{"amara", service.BoxMine}, {"ben", service.BoxMine}, {"ruth", service.BoxOffice}} {
		p, err := h.Svc.ListMemos(h.Ctx, as(who.name), who.box, nil, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Items {
			ids[m.Title] = "/memos/" + m.ID
		}
	}
	syria := ids["Syria: the case for a more muscular policy"]
	visa := ids["Visa waiver reciprocity"]
	sanctions := ids["Sanctions exemptions for humanitarian goods"]
	notes := ids["Notes: visa processing backlog"]
	if syria == "" || visa == "" || sanctions == "" || notes == "" {
		t.Fatalf("demo memos not found: %v", ids)
	}
	if _, err := h.Svc.CheckLedger(h.Ctx, as("inspector")); err != nil {
		t.Fatal(err)
	}

	visitor := c.person(t, "visitor")
	visitor.open("/sign-in")
	visitor.check("sign-in")
	visitor.open("/help")
	visitor.check("help")

	amara := c.person(t, "amara")
	amara.signIn("amara", demo.Password)
	amara.check("member-my-memos")
	for _, p := range []struct{ path, name string }{
		{"/memos/new", "member-compose"},
		{notes + "/edit", "member-edit-draft"},
		{syria, "member-memo"},
		{syria + "/history", "member-revision-diff"},
		{syria + "/receipt", "member-receipt"},
		{syria + "/access", "member-access-log"},
		{visa + "/sign", "member-sign"},
		{notes + "/submit", "member-submit-confirm"},
		{"/account", "account"},
		{"/notifications", "member-notifications"},
	} {
		amara.open(p.path)
		amara.check(p.name)
	}
	amara.open("/memos")
	amara.do("German", chromedpSelect("#lang-choice", "de"))
	amara.click("form.lang button")
	amara.check("member-my-memos-de")

	ben := c.person(t, "ben")
	ben.signIn("ben", demo.Password)
	ben.open(visa + "/signers")
	ben.typeInto("#q", "Foreign Service")
	ben.click("button[value=find]")
	ben.check("member-invite-signers")

	// The deadlines the demo let pass ring the office's bell, and the
	// office has added a reader it may take off again.
	if _, err := h.Svc.RunReminders(h.Ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "envoy", DisplayName: "Special Envoy for Syria",
		Email: "envoy@demo.invalid", Password: "first-" + demo.Password, Roles: []string{"principal"}}); err != nil {
		t.Fatal(err)
	}
	if tok, _, err := h.Svc.SignIn(h.Ctx, "envoy", "first-"+demo.Password); err != nil {
		t.Fatal(err)
	} else if err := h.Svc.ChangePassword(h.Ctx, h.Authenticate(tok), "first-"+demo.Password, demo.Password); err != nil {
		t.Fatal(err)
	}
	h.Confirm(as("ruth"), as("envoy")) // the envoy reads Ruth the fingerprint
	if _, err := h.Svc.AddReaders(h.Ctx, as("ruth"), strings.TrimPrefix(syria, "/memos/"), service.ReadersInput{
		Usernames: []string{"envoy"}, Reason: "The Special Envoy leads the talks the memo asks us to back."}); err != nil {
		t.Fatal(err)
	}

	// A principal who started afresh after a password reset, whose new
	// keys wait for the office to confirm them.
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "envoy2", DisplayName: "Deputy Special Envoy",
		Email: "envoy2@demo.invalid", Password: "first-" + demo.Password, Roles: []string{"principal"}}); err != nil {
		t.Fatal(err)
	}
	if tok, _, err := h.Svc.SignIn(h.Ctx, "envoy2", "first-"+demo.Password); err != nil {
		t.Fatal(err)
	} else if err := h.Svc.ChangePassword(h.Ctx, h.Authenticate(tok), "first-"+demo.Password, demo.Password); err != nil {
		t.Fatal(err)
	}
	if err := h.Svc.ResetPassword(h.Ctx, h.Admin, "envoy2", "reset-"+demo.Password); err != nil {
		t.Fatal(err)
	}
	if tok, _, err := h.Svc.SignIn(h.Ctx, "envoy2", "reset-"+demo.Password); err != nil {
		t.Fatal(err)
	} else if err := h.Svc.NewKeys(h.Ctx, h.Authenticate(tok), "reset-"+demo.Password, "own-"+demo.Password); err != nil {
		t.Fatal(err)
	}

	ruth := c.person(t, "ruth")
	ruth.signIn("ruth", demo.Password)
	ruth.check("office-inbox")
	for _, p := range []struct{ path, name string }{
		{"/office?view=done", "office-answered"},
		{sanctions, "office-memo"},
		{syria + "/meeting", "office-meeting"},
		{syria + "/readers", "office-add-readers"},
		{"/office/members", "office-members"},
		{"/notifications", "office-notifications"},
	} {
		ruth.open(p.path)
		ruth.check(p.name)
	}
	ruth.open(syria)
	ruth.do("open the removal form", chromedp.Click(chromedp.CSS("details.revoke summary")))
	ruth.typeInto("textarea[name=reason]", "The interagency review has ended.")
	ruth.check("office-remove-reader")
	ruth.open(syria + "/reply")
	ruth.typeInto("#reply-body", "Thank you for this careful memo. The Secretary has asked Policy Planning to prepare options that reflect your recommendations.")
	ruth.click("button[value=preview]")
	ruth.check("office-reply-preview")

	secretary := c.person(t, "secretary")
	secretary.signIn("secretary", demo.Password)
	secretary.check("principal-reading-room")
	secretary.open(syria)
	secretary.check("principal-memo")

	if c.shots != "" {
		// A busier year, so that the figures show more than hidden cells.
		seedYear(t, h, as)
	}

	// The deputy envoy, whose new keys await the office, sees why nothing
	// reaches them yet and the fingerprint to read to the office.
	envoy2 := c.person(t, "envoy2")
	envoy2.signIn("envoy2", "own-"+demo.Password)
	envoy2.open("/account")
	envoy2.see("not yet confirmed by the channel office")
	envoy2.check("account-keys-awaiting")

	inspector := c.person(t, "inspector")
	inspector.signIn("inspector", demo.Password)
	inspector.check("auditor-ledger")
	inspector.open("/figures")
	inspector.see("an hour after the year's end")
	if during := h.Clock.Now(); c.shots != "" {
		// The busier year's figures once it is over, with its signer
		// bands; then back to the year under way.
		h.Clock.Set(time.Date(during.Year()+1, time.January, 5, 10, 0, 0, 0, servicetest.Office))
		inspector.signIn("inspector", demo.Password)
		inspector.open(fmt.Sprintf("/figures?year=%d", during.Year()))
		inspector.check("figures")
		h.Clock.Set(during)
	} else {
		inspector.check("figures")
	}

	admin := c.person(t, "admin")
	admin.signIn("admin", servicetest.Password("admin"))
	admin.check("admin-users")
	for _, p := range []struct{ path, name string }{
		{"/admin/users/casey", "admin-user"},
		{"/admin/users/new", "admin-new-user"},
		{"/admin/distribution", "admin-distribution"},
		{"/admin/policy", "admin-policy-calendar"},
	} {
		admin.open(p.path)
		admin.check(p.name)
	}

	// Dana forgot her password: after the reset her keys are locked.
	if err := h.Svc.ResetPassword(h.Ctx, h.Admin, "dana", "a-temporary-passphrase"); err != nil {
		t.Fatal(err)
	}
	dana := c.person(t, "dana")
	dana.signIn("dana", "a-temporary-passphrase")
	dana.see("Your keys are locked")
	dana.check("account-keys-locked")

	// A new member signs in with the password the administrator gave them
	// and is asked for their own: their keys are made then.
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "newcomer", DisplayName: "Nia Newcomer",
		Email: "newcomer@demo.invalid", Password: "a-first-passphrase", Roles: []string{"member"}, Eligible: true}); err != nil {
		t.Fatal(err)
	}
	newcomer := c.person(t, "newcomer")
	newcomer.signIn("newcomer", "a-first-passphrase")
	newcomer.see("Choose your own password")
	newcomer.check("account-first-password")

	// The deputy envoy, whose keys await the office, joins the standing
	// distribution: a memo submitted now waits for them, and the office
	// sees that on its readers page.
	dist, err := h.Svc.GetDistribution(h.Ctx, h.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Svc.SetDistribution(h.Ctx, h.Admin, service.Distribution{Usernames: append(dist.Usernames, "envoy2")}); err != nil {
		t.Fatal(err)
	}
	admin.open("/admin/distribution")
	admin.see("Waiting for the channel office to confirm their keys")
	admin.check("admin-distribution-awaiting")
	drafter := as("amara")
	m, err := h.Svc.CreateMemo(h.Ctx, drafter, service.MemoInput{Title: "Visa processing backlog", Body: "The backlog harms our credibility with partners.", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Svc.Sign(h.Ctx, drafter, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Svc.Submit(h.Ctx, drafter, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if c.shots != "" {
		ruth.signIn("ruth", demo.Password) // seedYear moved the clock past her session
	}
	ruth.open("/memos/" + m.ID + "/readers")
	ruth.see("Waiting for their keys to be confirmed")
	ruth.check("office-withheld")
}

// seedYear files 40 more memos over the spring, with signers in every
// band, answered on time and late, by moving the clock through a schedule.
func seedYear(t *testing.T, h *servicetest.Harness, as func(string) *service.Actor) {
	t.Helper()
	people := []string{"abbott", "adeyemi", "alvarez", "andersen", "bauer", "becker", "bishop", "brennan", "castillo", "chandra",
		"cohen", "costa", "dalton", "delgado", "dubois", "ellis", "fischer", "foster", "garcia", "goldberg", "grant", "haddad",
		"hansen", "hughes", "ibrahim", "iversen", "jensen", "kahn", "keller", "kowalski"}
	actors := map[string]*service.Actor{}
	who := func(n string) *service.Actor {
		if actors[n] == nil {
			actors[n] = as(n)
		}
		return actors[n]
	}
	ruth := as("ruth")
	type step struct {
		at time.Time
		do func() error
	}
	var steps []step
	start := h.Clock.Now()
	for i := range 40 {
		author := people[i%len(people)]
		submitted := start.Add(time.Duration(i) * 36 * time.Hour)
		var id string
		steps = append(steps, step{submitted, func() error {
			m, err := h.Svc.CreateMemo(h.Ctx, who(author), service.MemoInput{Title: fmt.Sprintf("Memo %d", i), Body: "Text.", Marking: "UNCLASSIFIED"})
			if err != nil {
				return err
			}
			id = m.ID
			signers := []string{}
			for j := range []int{0, 2, 7, 25}[i%4] {
				if s := people[(i+1+j)%len(people)]; s != author {
					signers = append(signers, s)
				}
			}
			if len(signers) > 0 {
				if _, err := h.Svc.InviteSigners(h.Ctx, who(author), id, signers); err != nil {
					return err
				}
			}
			for _, s := range append([]string{author}, signers...) {
				if _, err := h.Svc.Sign(h.Ctx, who(s), id, m.Revision); err != nil {
					return err
				}
			}
			_, err = h.Svc.Submit(h.Ctx, who(author), id, m.Revision)
			return err
		}})
		switch {
		case i%13 == 5:
			steps = append(steps, step{submitted.Add(5 * time.Hour), func() error {
				_, err := h.Svc.Return(h.Ctx, ruth, id, "Not a policy matter.")
				return err
			}})
			continue
		case i%17 == 3:
			steps = append(steps, step{submitted.Add(26 * time.Hour), func() error {
				_, err := h.Svc.Withdraw(h.Ctx, who(author), id, "Overtaken by events.")
				return err
			}})
			continue
		}
		ack := submitted.Add(5 * time.Hour)
		if i%6 == 0 {
			ack = submitted.Add(5 * 24 * time.Hour)
		}
		steps = append(steps, step{ack, func() error {
			_, err := h.Svc.Acknowledge(h.Ctx, ruth, id)
			return err
		}})
		if i%3 == 0 {
			continue // still owed
		}
		reply := submitted.Add(time.Duration(14+i%5*20) * 24 * time.Hour)
		steps = append(steps, step{reply, func() error {
			if _, err := h.Svc.Reply(h.Ctx, ruth, id, "Our reply."); err != nil {
				return err
			}
			if i%2 == 0 {
				_, err := h.Svc.Close(h.Ctx, ruth, id)
				return err
			}
			return nil
		}})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	for _, s := range steps {
		h.Clock.Set(s.at)
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
	}
}
