package web

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
)

// seedMemo walks a memo through the service to replied, as alice with bob
// co-drafting and carol signing, and returns it.
func (s *site) seedMemo(t *testing.T) *service.Memo {
	t.Helper()
	ctx, svc := s.Ctx, s.Svc
	alice, bob, carol := s.actor("alice"), s.actor("bob"), s.actor("carol")
	m, err := svc.CreateMemo(ctx, alice, service.MemoInput{Title: "Visa policy", Body: "We dissent.\nBecause.", Marking: "SENSITIVE BUT UNCLASSIFIED", Codrafters: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = svc.EditMemo(ctx, bob, m.ID, service.EditInput{Title: m.Title, Body: "We dissent.\nBecause it fails.\nWe recommend change.", Marking: m.Marking, ExpectedRevision: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err = svc.InviteSigners(ctx, alice, m.ID, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{alice, carol} {
		if _, err := svc.Sign(ctx, a, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Submit(ctx, alice, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour)
	if _, err := svc.Acknowledge(ctx, s.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetMemo(ctx, s.Principals[0], m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Comment(ctx, s.Principals[0], m.ID, "Let us meet."); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordMeeting(ctx, s.Office, m.ID, service.MeetingInput{HeldAt: s.Clock.Now(), Minutes: 30, Principal: "p1", Attendees: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEveryPageRenders visits every page as the role it is for, in English
// and German, checking that it renders and carries no inline code.
func TestEveryPageRenders(t *testing.T) {
	s := newSite(t)
	s.Principal("p3")
	m := s.seedMemo(t)
	id := m.ID
	if _, err := s.Svc.AddReaders(s.Ctx, s.Office, id, service.ReadersInput{Usernames: []string{"p3"}, Reason: "Leads the talks."}); err != nil {
		t.Fatal(err)
	}
	visits := map[string][]string{
		"alice":  {"/memos", "/memos/new", "/memos/" + id, "/memos/" + id + "/history", "/memos/" + id + "/history?from=1&to=2", "/memos/" + id + "/receipt", "/memos/" + id + "/access", "/memos/" + id + "/withdraw", "/account", "/account/keys", "/notifications", "/help", "/admin/policy"},
		"office": {"/office", "/office?view=done", "/office/members", "/memos/" + id, "/memos/" + id + "/readers", "/memos/" + id + "/meeting", "/memos/" + id + "/reply", "/memos/" + id + "/return", "/memos/" + id + "/access", "/figures", "/notifications"},
		"p1":     {"/reading-room", "/memos/" + id, "/notifications"},
		"audrey": {"/audit", "/audit/access?memo=" + id, "/figures?year=2025", "/notifications"},
		"admin":  {"/admin/users", "/admin/users?q=ali", "/admin/users/new", "/admin/users/alice", "/admin/distribution", "/admin/policy", "/admin/policy?year=2027", "/figures", "/notifications"},
		// dora's keys are locked after a password reset.
		"dora": {"/account/keys", "/account", "/notifications", "/help"},
	}
	s.Member("dora")
	locked := s.lockedOut(t, "dora")
	for _, lang := range []string{"en-US", "de"} {
		for who, paths := range visits {
			b := locked
			if who != "dora" {
				b = s.signedIn(t, who)
			}
			b.lang = lang
			for _, p := range paths {
				t.Run(lang+"/"+who+p, func(t *testing.T) {
					res := b.get(p)
					if res.StatusCode != http.StatusOK {
						t.Fatalf("status %d: %s", res.StatusCode, res.body)
					}
					if strings.Contains(res.body, "ZgotmplZ") || strings.Contains(res.body, "%!") {
						t.Error("a value was escaped away or badly formatted")
					}
					noInline(t, res.body)
					noThirdParty(t, res.body)
				})
			}
		}
	}
	// The receipt downloads as JSON.
	res := s.signedIn(t, "alice").get("/memos/" + id + "/receipt.json")
	if res.Header.Get("Content-Type") != "application/json" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(res.body, `"content_hash"`) {
		t.Errorf("receipt download: %v %s", res.Header, res.body)
	}
	// The memo downloads as a bundle that verifies offline, every signer's
	// key anchored in the ledger.
	res = s.signedIn(t, "alice").get("/memos/" + id + "/bundle.json")
	if res.Header.Get("Content-Type") != "application/json" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("bundle download: %v", res.Header)
	}
	if bd, err := bundle.Parse([]byte(res.body)); err != nil {
		t.Errorf("the downloaded bundle: %v", err)
	} else if rep, err := bundle.Verify(bd, s.LedgerVKey); err != nil || len(rep.Signers) == 0 || len(rep.Anchored) != len(rep.Signers) {
		t.Errorf("the downloaded bundle verifies: %+v, %v; want every signer's key anchored", rep, err)
	}
	// The office's reply with its preview.
	office := s.signedIn(t, "office")
	prev := office.post("/memos/"+id+"/reply", url.Values{"action": {"preview"}, "body": {"Our reply."}})
	if prev.StatusCode != http.StatusOK || !strings.Contains(prev.body, "Preview") {
		t.Errorf("preview: %d", prev.StatusCode)
	}
	if sent := office.post("/memos/"+id+"/reply", url.Values{"action": {"send"}, "body": {"Our reply."}}); sent.StatusCode != http.StatusSeeOther {
		t.Errorf("send: %d %s", sent.StatusCode, sent.body)
	}
	if page := s.signedIn(t, "alice").get("/memos/" + id); !strings.Contains(page.body, "Our reply.") {
		t.Error("the author does not see the reply")
	}
}

func TestAutosave(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"T"}, "body": {"one"}, "marking": {"UNCLASSIFIED"}}))
	edit := alice.get("/memos/" + id + "/edit")
	if !strings.Contains(edit.body, `src="/static/autosave.js?v=`) || !strings.Contains(edit.body, "data-autosave") {
		t.Fatal("a draft's edit page has no autosave")
	}
	res := alice.post("/memos/"+id+"/edit", url.Values{"autosave": {"1"}, "expected_revision": {"1"}, "title": {"T"}, "body": {"two"}, "marking": {"UNCLASSIFIED"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `"revision":2`) {
		t.Fatalf("autosave: %d %s", res.StatusCode, res.body)
	}
	stale := alice.post("/memos/"+id+"/edit", url.Values{"autosave": {"1"}, "expected_revision": {"1"}, "title": {"T"}, "body": {"three"}, "marking": {"UNCLASSIFIED"}})
	if stale.StatusCode != http.StatusConflict || !strings.Contains(stale.body, "Not saved") {
		t.Errorf("stale autosave: %d %s", stale.StatusCode, stale.body)
	}
	// Circulating memos are not autosaved: an edit voids signatures.
	if _, err := s.Svc.InviteSigners(s.Ctx, s.actor("alice"), id, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(alice.get("/memos/"+id+"/edit").body, "data-autosave") {
		t.Error("a circulating memo is autosaved")
	}
}

func TestStaticFiles(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	h, err := newHandler(s.Svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := b.get("/static/style.css?v=" + h.version)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", res.Header)
	}
	if res := b.get("/static/nothing.css"); res.StatusCode != http.StatusNotFound {
		t.Errorf("missing static file: %d", res.StatusCode)
	}
}

// TestSignerProvesSignature: a co-signer finds, in the memo's full record,
// each ledger entry as a download; the one of her signature is a proof
// that verifies offline and commits to her, with the user id and nonce her
// receipt page shows her. A principal gets no such links, and no proof.
func TestSignerProvesSignature(t *testing.T) {
	s := newSite(t)
	m := s.seedMemo(t)
	carol := s.signedIn(t, "carol")
	view, err := s.Svc.GetMemo(s.Ctx, s.actor("carol"), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := hex.DecodeString(view.Authorship.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	receipt := carol.get("/memos/" + m.ID + "/receipt")
	if !strings.Contains(receipt.body, view.Authorship.UserID) || !strings.Contains(receipt.body, view.Authorship.Nonce) {
		t.Error("the receipt page does not show the signer her user id and nonce")
	}
	links := regexp.MustCompile(`href="(/memos/`+m.ID+`/proof/\d+)" download`).FindAllStringSubmatch(carol.get("/memos/"+m.ID).body, -1)
	if len(links) < 5 {
		t.Fatalf("%d proof links in the signer's full record", len(links))
	}
	signed := false
	for _, l := range links {
		res := carol.get(l[1])
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%s: %d %v", l[1], res.StatusCode, res.Header)
		}
		e, err := bundle.VerifyEntry([]byte(res.body), s.LedgerVKey)
		if err != nil {
			t.Fatalf("%s does not verify: %v", l[1], err)
		}
		if e.Leaf.Memo != m.ID {
			t.Errorf("%s proves an entry of memo %q", l[1], e.Leaf.Memo)
		}
		if e.Leaf.Action == "memo.sign" && ledger.CheckActorCommitment(e.Leaf.ActorCommit, view.Authorship.UserID, nonce) {
			signed = true
		}
	}
	if !signed {
		t.Error("no proof in the full record shows the signer's signature")
	}
	p1 := s.signedIn(t, "p1")
	if strings.Contains(p1.get("/memos/"+m.ID).body, "/proof/") {
		t.Error("a principal's page offers proofs")
	}
	if res := p1.get(links[0][1]); res.StatusCode != http.StatusNotFound {
		t.Errorf("a principal downloaded a proof: %d", res.StatusCode)
	}
}
