package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// bellLabel is what a screen reader hears for the bell on a page.
func bellLabel(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<a class="bell[^"]*" href="/notifications"[^>]*>.*?<span class="visually-hidden">([^<]*)</span>\s*</a>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the page has no bell")
	}
	return m[1]
}

// bellBadge is the number shown on the bell, or "".
func bellBadge(body string) string {
	m := regexp.MustCompile(`<span class="badge" aria-hidden="true">([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// submitted files a memo as alice, signed by her alone.
func (s *site) submitted(t *testing.T, title string) *service.Memo {
	t.Helper()
	alice := s.actor("alice")
	m, err := s.Svc.CreateMemo(s.Ctx, alice, service.MemoInput{Title: title, Body: "Body of " + title, Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Svc.Sign(s.Ctx, alice, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err = s.Svc.Submit(s.Ctx, alice, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if m, err = s.Svc.GetMemo(s.Ctx, alice, m.ID); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBellCountsUnreadNotices(t *testing.T) {
	s := newSite(t)
	office := s.signedIn(t, "office")
	if got := bellLabel(t, office.get("/office").body); got != "No unread notifications" {
		t.Errorf("before any memo: %q", got)
	}
	if b := bellBadge(office.get("/office").body); b != "" {
		t.Errorf("a badge %q with nothing unread", b)
	}
	s.submitted(t, "Zebra policy")
	for _, c := range []struct{ lang, label string }{
		{"en-US", "1 unread notification"},
		{"de", "1 ungelesene Benachrichtigung"},
	} {
		office.lang = c.lang
		body := office.get("/office").body
		if got := bellLabel(t, body); got != c.label {
			t.Errorf("%s: bell %q, want %q", c.lang, got, c.label)
		}
		if b := bellBadge(body); b != "1" {
			t.Errorf("%s: badge %q, want 1", c.lang, b)
		}
	}
	office.lang = ""
	s.submitted(t, "Yak policy")
	// On every signed-in page, in the header.
	for _, p := range []string{"/office", "/account", "/help", "/figures", "/no-such-page"} {
		if got := bellLabel(t, office.get(p).body); got != "2 unread notifications" {
			t.Errorf("%s: bell %q", p, got)
		}
	}
	// Principals on the standing distribution are told too.
	if got := bellLabel(t, s.signedIn(t, "p1").get("/reading-room").body); got != "2 unread notifications" {
		t.Errorf("principal: %q", got)
	}
	// Signed-out pages have no bell.
	if strings.Contains(s.browser(t).get("/sign-in").body, `href="/notifications"`) {
		t.Error("the sign-in page has a bell")
	}
}

func TestNotificationsPage(t *testing.T) {
	s := newSite(t)
	m := s.submitted(t, "Zebra policy")
	office := s.signedIn(t, "office")
	res := office.get("/notifications")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	h, err := newHandler(s.Svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	due := h.chooseLocale(r).DateTime(m.Deadlines.AcknowledgeBy) // in the office's zone
	for _, want := range []string{
		"A memo arrived for the office: acknowledge its receipt",
		"Acknowledge by:</strong> <time datetime=\"" + m.Deadlines.AcknowledgeBy.In(servicetest.Office).Format(time.RFC3339) + "\">" + due + "</time>",
		`<a href="/memos/` + m.ID + `"`,
		`<span class="tag tag-new">New</span>`,
		`<form method="post" action="/notifications/read">`,
		`aria-current="page"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "Zebra") {
		t.Error("the notifications page names the memo's title")
	}
	if strings.Contains(res.body, "Waiting for you as an author") {
		t.Error("the office sees author notices")
	}

	// The page is read up to the newest notice it showed; one that comes
	// after stays unread.
	seq := regexp.MustCompile(`name="seq" value="(\d+)"`).FindStringSubmatch(res.body)
	if seq == nil {
		t.Fatal("no seq in the form")
	}
	s.submitted(t, "Yak policy")
	read := office.post("/notifications/read", url.Values{"seq": {seq[1]}})
	if read.StatusCode != http.StatusSeeOther || read.Header.Get("Location") != "/notifications" {
		t.Fatalf("mark read: %d %q", read.StatusCode, read.Header.Get("Location"))
	}
	after := office.get("/notifications")
	if !strings.Contains(after.body, "Your notices are marked as read.") {
		t.Error("no notice that the notices are read")
	}
	if got := bellLabel(t, after.body); got != "1 unread notification" {
		t.Errorf("after marking the shown notices read: %q", got)
	}
	if n := strings.Count(after.body, `class="tag tag-new"`); n != 1 {
		t.Errorf("%d notices marked new, want 1", n)
	}
	all := regexp.MustCompile(`name="seq" value="(\d+)"`).FindStringSubmatch(after.body)
	office.post("/notifications/read", url.Values{"seq": {all[1]}})
	done := office.get("/notifications")
	if got := bellLabel(t, done.body); got != "No unread notifications" {
		t.Errorf("after marking all read: %q", got)
	}
	if strings.Contains(done.body, `action="/notifications/read"`) {
		t.Error("a button to mark read with nothing unread")
	}

	t.Run("refused from another site", func(t *testing.T) {
		s.submitted(t, "Xerus policy")
		res := office.post("/notifications/read", url.Values{"seq": {"0"}}, "Sec-Fetch-Site", "cross-site")
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("status %d", res.StatusCode)
		}
		if got := bellLabel(t, office.get("/office").body); got != "1 unread notification" {
			t.Errorf("a forged post marked notices read: %q", got)
		}
	})
	t.Run("bad seq", func(t *testing.T) {
		for _, seq := range []string{"", "x", "-1"} {
			if res := office.post("/notifications/read", url.Values{"seq": {seq}}); res.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("seq %q: status %d", seq, res.StatusCode)
			}
		}
	})
}

// TestAuthorNotices checks the notices worked out for authors: a signature
// asked, shown and counted until given.
func TestAuthorNotices(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"Zebra policy"}, "body": {"B"}, "marking": {"UNCLASSIFIED"}}))
	if res := alice.post("/memos/"+id+"/signers", url.Values{"action": {"invite"}, "usernames": {"carol"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d %s", res.StatusCode, res.body)
	}
	carol := s.signedIn(t, "carol")
	page := carol.get("/notifications")
	if got := bellLabel(t, page.body); got != "1 unread notification" {
		t.Errorf("carol's bell: %q", got)
	}
	for _, want := range []string{"Waiting for you as an author", "Your signature is asked on a memo", `<a href="/memos/` + id + `" aria-describedby="waiting-0">Open the memo</a>`, "No notices yet."} {
		if !strings.Contains(page.body, want) {
			t.Errorf("carol's page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "Zebra") {
		t.Error("the notice names the memo's title")
	}
	if res := carol.post("/memos/"+id+"/sign", url.Values{"revision": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign: %d", res.StatusCode)
	}
	page = carol.get("/notifications")
	if got := bellLabel(t, page.body); got != "No unread notifications" || strings.Contains(page.body, "Your signature is asked") {
		t.Errorf("after signing: bell %q", got)
	}
	// A draft left alone is flagged to its drafter, but not counted.
	s.Clock.Advance(31 * 24 * time.Hour)
	alice = s.signedIn(t, "alice")
	page = alice.get("/notifications")
	if !strings.Contains(page.body, "A draft of yours has not changed for a long time") {
		t.Error("no notice of the stale draft")
	}
	if got := bellLabel(t, page.body); got != "No unread notifications" {
		t.Errorf("a stale draft is counted: %q", got)
	}
}

// TestEveryNoticeKindHasWords checks that each kind of notice the service
// writes or works out is put in words, rather than in the general "something
// needs your attention".
func TestEveryNoticeKindHasWords(t *testing.T) {
	kinds := []string{service.KindReceived, service.KindDistributed, service.KindSignPending, service.KindDraftStale,
		service.KindAcknowledged, service.KindReplied, service.KindReturned, service.KindAppealed, service.KindPublished, service.KindMessage, service.KindWrote,
		service.KindKeysRecovered, service.KindAccountCreated, service.KindKeysMade, service.KindPasswordReset, service.KindNewKeys, service.KindEmailChanged, service.KindKeysConfirmed, service.KindKeysAwaiting}
	for _, d := range []string{service.DeadlineAcknowledge, service.DeadlineReply, service.DeadlineReplyLatest, service.DeadlineAppealReply} {
		kinds = append(kinds, "remind."+d, "overdue."+d)
	}
	for _, k := range kinds {
		if noticeNames[k] == "" {
			t.Errorf("no words for notices of kind %q", k)
		}
	}
	if len(noticeNames) != len(kinds) {
		t.Errorf("words for %d kinds, want %d", len(noticeNames), len(kinds))
	}
}
