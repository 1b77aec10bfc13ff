package web

// What hostile input and other hosts of the site must not get from the
// pages: each test here comes from a review (helper-27) that found the
// pages without the property it states.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

// TestNameListsAreBounded: any signed-in user may post a form with a list
// of usernames (the standing distribution, readers, co-drafters, signers),
// which is cleaned before the service decides. It keeps no more than the
// service takes and one more, so that a list of 60,000 names (480 KB; the
// form limit is 3 MiB) costs little before the refusal: repeats were
// dropped in quadratic time, seconds to minutes of a CPU per request. The
// one more makes the service refuse the list rather than take its head.
func TestNameListsAreBounded(t *testing.T) {
	var names strings.Builder
	for i := range 60_000 {
		fmt.Fprintf(&names, "u%06d,", i)
	}
	if got := len(splitNames(names.String())); got != channel.MaxUsernames+1 {
		t.Errorf("a list of 60,000 names is cleaned to %d, want %d", got, channel.MaxUsernames+1)
	}
	if got := splitNames("a, b,a\nc;;b"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("cleaned to %q", got)
	}
	s := newSite(t)
	bob := s.signedIn(t, "bob") // a member: may not set the distribution
	if res := bob.post("/admin/distribution", url.Values{"usernames": {names.String()}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a member setting the distribution: status %d, want 403", res.StatusCode)
	}
	admin := s.signedIn(t, "admin")
	res := admin.post("/admin/distribution", url.Values{"usernames": {names.String()}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "at most 200 people at once") {
		t.Errorf("a list of 60,000 names: status %d, want 422 and the limit", res.StatusCode)
	}
}

// TestHistoryPageIsBounded: the revision history renders every line
// of both revisions as several nested elements, so a memo at the body limit
// (1 MiB of short lines) gives a page tens of times its size, built in
// memory before a byte is sent.
func TestHistoryPageIsBounded(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	body := strings.Repeat("\n", 1<<20-16) + "x"
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"T"}, "body": {body}, "marking": {"UNCLASSIFIED"}}))
	start := time.Now()
	res := alice.get("/memos/" + id + "/history")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if limit := 16 * len(body); len(res.body) > limit {
		t.Errorf("the history of a %d-byte memo is a %d-byte page (%.0fx), built in %v; want at most %d", len(body), len(res.body), float64(len(res.body))/float64(len(body)), time.Since(start), limit)
	}
}

// TestPrefetchDoesNotRecordReads: pageRequest lets another host of
// the same site open a page only as a navigation the person makes. A
// speculation-rules prefetch or prerender from that host is a navigation
// request too (Sec-Fetch-Mode navigate, Sec-Fetch-Dest document, with the
// SameSite=Strict cookie, since it is same-site), but the person never asked
// for it: it carries Sec-Purpose. It is served, and the read is recorded in
// the ledger in the principal's name.
func TestPrefetchDoesNotRecordReads(t *testing.T) {
	s := newSite(t)
	m := s.submitted(t, "Read only by choice")
	p1 := s.signedIn(t, "p1")
	for _, purpose := range []string{"prefetch", "prefetch;prerender"} {
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/memos/"+m.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", "same-site")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		req.Header.Set("Sec-Purpose", purpose)
		if res := p1.do(req); res.StatusCode == http.StatusOK {
			t.Errorf("Sec-Purpose %s from a sibling host: status %d, the memo was served", purpose, res.StatusCode)
		}
	}
	page, err := s.Svc.AccessLog(s.Ctx, s.actor("alice"), m.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Items {
		if e.Action == "read" && e.Username == "p1" {
			t.Errorf("a read by p1 is recorded at %v, though p1 never opened the memo", e.At)
		}
	}
}

// TestSubresourcesDoNotKeepSessionsAlive: authed refuses an image or
// fetch from another host before it looks at the session, but the public
// pages (help, sign-in, every 404) authenticate any request that carries
// the cookie, and authenticating extends the idle time-out. A page on a
// sibling host that loads an image from the channel every few minutes keeps
// an abandoned session open for its full 12 hours.
func TestSubresourcesDoNotKeepSessionsAlive(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	for range 2 {
		s.Clock.Advance(20 * time.Minute)
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/help", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", "same-site")
		req.Header.Set("Sec-Fetch-Mode", "no-cors")
		req.Header.Set("Sec-Fetch-Dest", "image")
		b.do(req)
	}
	// 40 minutes without a page of the person's own: past the 30-minute
	// idle time-out.
	if res := b.get("/memos"); res.StatusCode == http.StatusOK {
		t.Errorf("after 40 idle minutes with only a sibling host's images, the session still opens /memos (status %d)", res.StatusCode)
	}
}

// TestMemoTitleNotKeptInFormHistory: the memo's title is "encrypted
// like the text", but the title field is a plain text input that browsers
// save in their form history (by field name, not by site) when the form is
// sent, and offer again later. The directory search field opts out; the
// title does not.
func TestMemoTitleNotKeptInFormHistory(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"T"}, "body": {"B"}, "marking": {"UNCLASSIFIED"}}))
	input := regexp.MustCompile(`<input[^>]*\sname="title"[^>]*>`)
	for _, p := range []string{"/memos/new", "/memos/" + id + "/edit"} {
		tag := input.FindString(alice.get(p).body)
		if tag == "" {
			t.Fatalf("%s: no title field", p)
		}
		if !strings.Contains(tag, `autocomplete="off"`) {
			t.Errorf("%s: the title field may be saved in the browser's form history: %s", p, tag)
		}
	}
}

// TestStaticHasNoDirectoryListing: /static/ answers with an index
// of the files, from http.FileServer.
func TestStaticHasNoDirectoryListing(t *testing.T) {
	s := newSite(t)
	res := s.browser(t).get("/static/")
	if res.StatusCode == http.StatusOK && strings.Contains(res.body, `<a href="autosave.js">`) {
		t.Errorf("GET /static/ lists the directory: status %d: %q", res.StatusCode, res.body)
	}
}

// TestOutsiderCannotLockOutTheOffice: failed sign-ins are limited per
// account, and the sign-in page takes them from anyone. Someone who knows
// the office's usernames posts wrong passwords past the limit; the office
// member's browser, which signed in before and kept its device cookie,
// still signs in (acknowledgements and replies must not miss their
// deadlines for it). A browser that never signed in to the account shares
// the account's count. (The test deployment allows 1000 failures an hour;
// a real one 10.)
func TestOutsiderCannotLockOutTheOffice(t *testing.T) {
	s := newSite(t)
	office := s.signedIn(t, "office")
	limit := s.Svc.Config().SignInLimit
	outsider := s.browser(t)
	for range limit {
		outsider.post("/sign-in", url.Values{"username": {"office"}, "password": {"wrong-password-1"}})
	}
	if res := office.post("/sign-in", url.Values{"username": {"office"}, "password": {servicetest.Password("office")}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after %d wrong passwords from an outsider, the office's own browser gets status %d", limit, res.StatusCode)
	}
	if res := s.browser(t).post("/sign-in", url.Values{"username": {"office"}, "password": {servicetest.Password("office")}}); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a new browser, past the account's limit: status %d, want 429", res.StatusCode)
	}
}
