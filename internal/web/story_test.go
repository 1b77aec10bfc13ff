package web

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestBrowserStory is the seed story in a real browser: draft, co-draft,
// invite, several people sign, an edit voids the signatures, submit; the
// office acknowledges and adds a reader; the principal reads and comments;
// a meeting is recorded; the reply is sent and read by an author, who then
// sees who read the memo; the office takes the reader off again. The
// office's bell rings for the submission. axe-core checks every main page
// on the way.
func TestBrowserStory(t *testing.T) {
	s := newSite(t)
	s.Member("dave")
	s.Principal("p3")
	c := startChrome(t, s.srv.URL, false)
	defer c.checkConsole()
	pw := servicetest.Password

	// Alice drafts, with Bob as co-drafter, found in the directory.
	alice := c.person(t, "alice")
	alice.signIn("alice", pw("alice"))
	alice.check("member-memos")
	alice.open("/memos/new")
	alice.check("compose")
	alice.typeInto("#title", "Visa reciprocity")
	alice.do("marking", chromedp.SetValue(chromedp.CSS("#marking"), "SENSITIVE BUT UNCLASSIFIED"))
	alice.typeInto("#body", "Our visa waiver talks ask partners for terms we do not offer.\nWe should align our own practice first.")
	alice.typeInto("#q", "bob")
	alice.click("button[value=find]")
	alice.see("Display bob")
	if v := alice.eval(`document.querySelector("#title").value`); v != "Visa reciprocity" {
		t.Fatalf("the search lost the title: %q", v)
	}
	alice.do("tick bob", chromedp.Click(chromedp.CSS("#cd-bob")))
	alice.click("button[value=save]")
	alice.see("Your draft is saved", "Visa reciprocity", "Display bob", "SENSITIVE BUT UNCLASSIFIED")
	id := regexp.MustCompile(`/memos/([a-z2-7]{26})$`).FindStringSubmatch(alice.url())
	if id == nil {
		t.Fatalf("not on a memo page: %s", alice.url())
	}
	memo := "/memos/" + id[1]
	alice.check("memo-draft")

	// She invites Carol and Dave.
	alice.click("a[href$='/signers']")
	alice.check("invite")
	alice.typeInto("#q", "carol")
	alice.click("button[value=find]")
	alice.do("tick carol", chromedp.Click(chromedp.CSS("#s-carol")))
	alice.typeInto("#q", "dave")
	alice.click("button[value=find]")
	alice.do("tick dave", chromedp.Click(chromedp.CSS("#s-dave")))
	alice.click("button[value=invite]")
	alice.see("The signers are invited", "Circulating for signature")

	// Alice, Carol and Dave sign revision 1.
	sign := func(p *tab) {
		t.Helper()
		p.open(memo)
		p.click("a[href$='/sign']")
		p.see("What you are signing", "Content hash", "your signature is voided")
		p.check("sign")
		p.click("form[action$='/sign'] button[type=submit]")
		p.see("You signed this revision.")
	}
	sign(alice)
	carol := c.person(t, "carol")
	carol.signIn("carol", pw("carol"))
	carol.see("You are invited to sign")
	sign(carol)
	dave := c.person(t, "dave")
	dave.signIn("dave", pw("dave"))
	sign(dave)

	// Bob edits: every signature is voided.
	bob := c.person(t, "bob")
	bob.signIn("bob", pw("bob"))
	bob.open(memo)
	bob.click("a[href$='/edit']")
	bob.see("Saving voids every signature.", "3 people have signed this revision")
	bob.check("edit")
	bob.do("edit body", chromedp.SetValue(chromedp.CSS("#body"), "Our visa waiver talks ask partners for terms we do not offer.\nWe should align our own practice first.\nWe recognise the costs."))
	bob.click("form[action$='/edit'] button[type=submit]")
	bob.see("Your changes are saved as a new revision.", "Revision 2")
	if n := strings.Count(bob.text("details.authors table"), "Not signed"); n != 4 {
		t.Errorf("after the edit %d authors are unsigned, want all 4", n)
	}
	bob.open(memo + "/history")
	bob.see("Changes from revision 1 to revision 2", "We recognise the costs.", "Content hash of revision 1: ")
	bob.check("history")

	// Alice and Carol sign again; Dave does not.
	sign(alice)
	sign(carol)

	// Alice checks the final text and submits; Dave is left off.
	alice.open(memo)
	alice.click("a[href$='/submit']")
	alice.see("Check and submit", "We recognise the costs.", "SENSITIVE BUT UNCLASSIFIED", "Display dave", "will be left off")
	alice.check("submit")
	alice.click("form[action$='/submit'] button[type=submit]")
	alice.see("The memo is submitted", "Your receipt", "Signed checkpoint")
	alice.check("receipt")
	var receipt struct {
		MemoID       string `json:"memo_id"`
		Revision     int    `json:"revision"`
		AuthorsCount int    `json:"authors_count"`
		Dropped      int    `json:"dropped_signers"`
		ContentHash  string `json:"content_hash"`
	}
	raw := alice.eval(`fetch(document.querySelector("a[download]").href).then(r => r.text())`)
	if err := json.Unmarshal([]byte(raw), &receipt); err != nil {
		t.Fatalf("receipt download: %v: %s", err, raw)
	}
	if receipt.MemoID != id[1] || receipt.Revision != 2 || receipt.AuthorsCount != 3 || receipt.Dropped != 1 || len(receipt.ContentHash) != 64 {
		t.Errorf("receipt %+v", receipt)
	}

	// The office acknowledges and adds a reader, with a reason.
	office := c.person(t, "office")
	office.signIn("office", pw("office"))
	office.see("Office inbox", "Visa reciprocity", "Acknowledgement", "Due in 2 working days")
	office.check("office-inbox")
	// The submission rang the office's bell; the notice names no title.
	if got := office.eval(`document.querySelector("a.bell .badge").textContent`); got != "1" {
		t.Errorf("the office's bell shows %q, want 1", got)
	}
	if got := office.eval(`document.querySelector("a.bell .visually-hidden").textContent`); got != "1 unread notification" {
		t.Errorf("the bell is read out as %q", got)
	}
	office.click("a.bell")
	office.see("Notifications", "A memo arrived for the office: acknowledge its receipt", "Acknowledge by:")
	if strings.Contains(office.text("main"), "Visa reciprocity") {
		t.Error("the notifications page names the memo's title")
	}
	office.check("notifications")
	office.click("form[action='/notifications/read'] button")
	office.see("Your notices are marked as read.")
	if got := office.eval(`String(document.querySelector("a.bell .badge") === null) + " " + document.querySelector("a.bell .visually-hidden").textContent`); got != "true No unread notifications" {
		t.Errorf("after marking read the bell is %q", got)
	}
	office.open("/office")
	office.click("a[href='" + memo + "']")
	office.check("office-memo")
	office.click("form[action$='/acknowledge'] button")
	office.see("The memo is acknowledged", "Acknowledged")
	office.click("a[href$='/readers']")
	office.check("readers")
	office.typeInto("#usernames", "p3")
	office.typeInto("#reason", "The regional bureau leads the negotiations.")
	office.click("form[action$='/readers'] button[type=submit]")
	office.see("The readers are added", "added by office: The regional bureau leads the negotiations.")

	// The principal reads it in the reading room and comments.
	p3 := c.person(t, "p3")
	p3.signIn("p3", pw("p3"))
	p3.see("Reading room", "Visa reciprocity")
	p3.check("reading-room")
	p3.click("a[href='" + memo + "']")
	p3.see("We recognise the costs.", "You read this memo as a principal")
	p3.check("principal-memo")
	p3.typeInto("#comment-body", "I would like to meet two of the authors.")
	p3.click("form[action$='/comment'] button[type=submit]")
	p3.see("Your comment is sent to the office.", "I would like to meet two of the authors.")

	// The office records the meeting, then writes, previews and sends the reply.
	office.open(memo + "/meeting")
	office.check("meeting")
	office.do("principal", chromedp.SetValue(chromedp.CSS("#principal"), "p3"))
	office.do("attendees", chromedp.Click(chromedp.CSS("#at-alice")), chromedp.Click(chromedp.CSS("#at-bob")))
	office.typeInto("#notes", "Heard the authors' case.")
	office.click("form[action$='/meeting'] button[type=submit]")
	office.see("The meeting is recorded.", "p3 met alice, bob.")
	office.click("a[href$='/reply']")
	office.typeInto("#reply-body", "Thank you. We will align our practice in the next round.")
	office.click("button[value=preview]")
	office.see("Preview: this is what the authors will read", "We will align our practice")
	office.check("reply-preview")
	office.click("button[value=send]")
	office.see("The reply is sent.", "Replied")

	// An author reads the reply, then who read the memo.
	bob.open(memo)
	bob.see("The office's reply", "We will align our practice in the next round.", "Heard the authors' case.")
	bob.click("a[href$='/access']")
	bob.see("Who read this memo", "p3", "Read it", "Was given access")
	bob.check("access-log")

	// The office takes p3 off the distribution again, with a reason; the
	// form says what that does to the memo's key.
	office.open(memo)
	office.do("open the removal form", chromedp.Click(chromedp.CSS("details.revoke summary")))
	office.see("They keep what they already read; what is written from now on is sealed with a new key.")
	office.typeInto("#revoke-reason-p3", "The negotiations moved to the functional bureau.")
	office.check("remove-reader")
	office.click("form[action$='/revoke'] button[type=submit]")
	office.see("The reader is removed from the distribution")
	if strings.Contains(office.text("main"), "added by office") {
		t.Error("p3 is still on the distribution")
	}
	// (Not p3's browser: a 404 is logged as a console error.)
	if _, err := s.Svc.GetMemo(s.Ctx, s.actor("p3"), id[1]); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("p3 after removal: %v", err)
	}
}

// TestKeyboardOnly composes and signs a memo with Tab and Enter alone.
func TestKeyboardOnly(t *testing.T) {
	s := newSite(t)
	c := startChrome(t, s.srv.URL, false)
	defer c.checkConsole()
	alice := c.person(t, "alice")
	alice.open("/sign-in")
	alice.tabTo("#username")
	alice.do("type", chromedp.KeyEvent("alice"))
	alice.tabTo("#password")
	alice.do("type", chromedp.KeyEvent(servicetest.Password("alice")))
	alice.keyLoad("\r")
	alice.see("My memos")

	// The first Tab reaches the skip link, which shows its focus.
	alice.do("tab", chromedp.KeyEvent("\t"))
	if got := alice.eval(`document.activeElement.className`); got != "skip" {
		t.Errorf("the first Tab reaches %q, not the skip link", got)
	}
	alice.focusVisible()

	// Compose.
	alice.tabTo("nav a[href='/memos/new']")
	alice.focusVisible()
	alice.keyLoad("\r")
	alice.tabTo("#title")
	alice.focusVisible()
	alice.do("title", chromedp.KeyEvent("Typed by keyboard"))
	alice.tabTo("#body")
	alice.do("body", chromedp.KeyEvent("First line.\rSecond line."))
	alice.tabTo("button[value=save]")
	alice.focusVisible()
	alice.keyLoad("\r")
	alice.see("Your draft is saved", "Typed by keyboard", "First line.\nSecond line.")

	// Sign.
	alice.tabTo("a[href$='/sign']")
	alice.keyLoad("\r")
	alice.see("What you are signing")
	alice.tabTo("form[action$='/sign'] button[type=submit]")
	alice.focusVisible()
	alice.keyLoad("\r")
	alice.see("You signed this revision.", "You signed revision 1.")
}

// TestBrowserAppeal is the NRC profile's appeal and publication in a real
// browser: after the office's reply the drafter appeals from the memo's
// page, with a reason; the office finds the appeal in its inbox and
// decides it; the drafter reads the decision. The case closed, the drafter
// agrees to publish it and the office does; a colleague reads it among
// the published cases. axe-core checks the new pages.
func TestBrowserAppeal(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "nrc-dpo"})
	m := s.submitted(t, "Seismic margins at the older plants")
	if _, err := s.Svc.Reply(s.Ctx, s.actor("office"), m.ID, "We keep the current margins."); err != nil {
		t.Fatal(err)
	}
	c := startChrome(t, s.srv.URL, os.Getenv("DISSENT_SCREENSHOTS") != "")
	defer c.checkConsole()
	pw := servicetest.Password
	memo := "/memos/" + m.ID

	alice := c.person(t, "alice")
	alice.signIn("alice", pw("alice"))
	alice.open(memo)
	alice.see("We keep the current margins.", "Appeal by")
	alice.click("a[href$='/appeal']")
	alice.see("Appeal the reply", "You may appeal until")
	alice.check("member-appeal")
	alice.typeInto("#reason", "The review did not weigh the 2011 data.")
	alice.click("form[action$='/appeal'] button[type=submit]")
	alice.see("Your appeal is with the channel office.", "Appealed", "The authors' appeal", "The review did not weigh the 2011 data.")
	alice.check("member-memo-appealed")

	office := c.person(t, "office")
	office.signIn("office", pw("office"))
	office.open("/office")
	office.see("Seismic margins at the older plants", "Decision on appeal")
	office.open(memo)
	office.see("The authors' appeal", "Decide the appeal by")
	office.click("a[href$='/reply']")
	office.see("Decide the appeal", "there is no second appeal")
	office.check("office-decide-appeal")
	office.typeInto("#reply-body", "On appeal: the 2011 data does not change the margins.")
	office.click("button[value=preview]")
	office.click("button[value=send]")
	office.see("The decision on appeal", "On appeal: the 2011 data does not change the margins.")

	alice.open(memo)
	alice.see("The decision on appeal", "On appeal: the 2011 data does not change the margins.", "We keep the current margins.")
	if strings.Contains(alice.text(".memo-side"), "Appeal the reply") {
		t.Error("the drafter is offered a second appeal")
	}

	// The case is closed; its drafter agrees to publish it, and the
	// office publishes it, which anyone signed in then reads.
	office.open(memo)
	office.click("form[action$='/close'] button[type=submit]")
	office.see("Closed", "0 of 1 drafters agreed")
	alice.open(memo)
	alice.click("form[action$='/publication/consent'] button[type=submit]")
	alice.see("You agreed to publish this memo once its case is closed.", "1 of 1 drafters agreed")
	office.open(memo)
	office.click("form[action$='/publish'] button[type=submit]")
	office.see("The case is published.", "Seismic margins at the older plants", "On appeal: the 2011 data does not change the margins.", "Authors: 1")
	bob := c.person(t, "bob")
	bob.signIn("bob", pw("bob"))
	bob.click("a[href='/published']")
	bob.see("Published cases", "Seismic margins at the older plants")
	bob.check("published-cases")
	bob.click("a[href='" + "/published/" + m.ID + "']")
	bob.see("The review did not weigh the 2011 data.", "the ledger entry that recorded the publication carries it")
	bob.check("published-case")
	if strings.Contains(bob.text("main"), "Display alice") {
		t.Error("the published case names its author")
	}
}

// TestBrowserAnonymousReport: under the EU profile a member files a report
// anonymously from the new-memo form; the office opens it and sees that
// it is anonymous, with no name anywhere on the page.
func TestBrowserAnonymousReport(t *testing.T) {
	s := newSite(t, servicetest.Options{Profile: "eu-2019-1937"})
	c := startChrome(t, s.srv.URL, os.Getenv("DISSENT_SCREENSHOTS") != "")
	defer c.checkConsole()
	pw := servicetest.Password

	alice := c.person(t, "alice")
	alice.signIn("alice", pw("alice"))
	alice.open("/memos/new")
	alice.typeInto("#title", "Invoices split to stay under the tender threshold")
	alice.typeInto("#body", "Since March, field equipment is bought in invoices just under the open-tender threshold, always from the same two suppliers.")
	alice.do("tick anonymous", chromedp.Click(chromedp.CSS("#anonymous")))
	alice.check("member-new-anonymous")
	alice.click("button[value=save]")
	alice.see("You filed this report anonymously", "Display alice")
	alice.check("member-anonymous-report")
	id, _, _ := strings.Cut(strings.TrimPrefix(alice.url(), s.srv.URL+"/memos/"), "?")
	a := s.actor("alice")
	if _, err := s.Svc.Sign(s.Ctx, a, id, 1); err != nil {
		t.Fatalf("sign %q: %v", id, err)
	}
	if _, err := s.Svc.Submit(s.Ctx, a, id, 1); err != nil {
		t.Fatal(err)
	}

	office := c.person(t, "office")
	office.signIn("office", pw("office"))
	office.open("/memos/" + id)
	office.see("Invoices split to stay under the tender threshold", "An anonymous report: the office and the readers are not told who filed it.")
	office.check("office-anonymous-report")
	if main := office.text("main"); strings.Contains(main, "alice") {
		t.Errorf("the office's page of an anonymous report names its author:\n%s", main)
	}

	// The office asks the reporter a question; the reporter answers.
	office.typeInto("#message-body", "Which two suppliers? Since when exactly?")
	office.click("form[action$='/messages'] button[type=submit]")
	office.see("Your message is sent.", "Which two suppliers? Since when exactly?")
	s.Clock.Advance(time.Minute)
	alice.open("/memos/" + id)
	alice.see("Messages with the office", "Which two suppliers? Since when exactly?")
	alice.typeInto("#message-body", "Northwind and Contoso, since March.")
	alice.click("form[action$='/messages'] button[type=submit]")
	alice.see("Your message is sent.", "Northwind and Contoso, since March.")
	office.open("/memos/" + id)
	office.see("The reporter", "Northwind and Contoso, since March.")
	office.check("office-messages-reporter")
	if main := office.text("main"); strings.Contains(main, "alice") {
		t.Errorf("the office's page of the reporter's answer names them:\n%s", main)
	}
}
