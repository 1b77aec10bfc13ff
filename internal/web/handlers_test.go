package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	for _, path := range []string{"/sign-in", "/help", "/memos", "/memos/new", "/account", "/account/keys", "/notifications", "/no-such-page"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			res := b.get(path)
			want := map[string]string{
				"Content-Security-Policy": csp,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-store",
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			noInline(t, res.body)
			noThirdParty(t, res.body)
		})
	}
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the policy lacks %q", want)
		}
	}
}

var (
	inlineScript = regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTag    = regexp.MustCompile(`(?is)<script[^>]*>`)
	styleAttr    = regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	handlerAttr  = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	offsite      = regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*"(?:https?:)?//`)
)

// noInline fails if a page has inline script or style, which the policy
// would block anyway: a page that relies on them is broken.
func noInline(t *testing.T, body string) {
	t.Helper()
	if inlineScript.MatchString(body) {
		t.Error("inline script")
	}
	for _, tag := range scriptTag.FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="/static/`) {
			t.Errorf("a script not from this site: %s", tag)
		}
	}
	if styleAttr.MatchString(body) || strings.Contains(strings.ToLower(body), "<style") {
		t.Error("inline style")
	}
	if handlerAttr.MatchString(body) {
		t.Error("inline event handler")
	}
}

func noThirdParty(t *testing.T, body string) {
	t.Helper()
	if m := offsite.FindString(body); m != "" {
		t.Errorf("a resource or link to another site: %s", m)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	res := b.post("/sign-in", url.Values{"username": {"alice"}, "password": {"alice-password-1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", res.StatusCode)
	}
	var raw string
	for _, c := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			raw = c
		}
	}
	if raw == "" {
		t.Fatal("no session cookie")
	}
	for _, want := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(raw, want) {
			t.Errorf("cookie %q lacks %s", raw, want)
		}
	}
	for _, bad := range []string{"Domain=", "Max-Age", "Expires"} {
		if strings.Contains(raw, bad) {
			t.Errorf("cookie %q has %s: it should end with the browser", raw, bad)
		}
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	cases := []struct {
		name   string
		header []string
	}{
		{"cross-site fetch metadata", []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site but other origin", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin without fetch metadata", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := b.post("/memos/new", url.Values{"action": {"save"}, "title": {"Forged"}, "body": {"Forged"}, "marking": {"UNCLASSIFIED"}}, c.header...)
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
			if !strings.Contains(res.body, "another site") {
				t.Errorf("the refusal does not say why: %s", res.body)
			}
			res = b.post("/sign-in", url.Values{"username": {"bob"}, "password": {"bob-password-1"}}, c.header...)
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Set-Cookie") != "" {
				t.Errorf("cross-origin sign-in: status %d, cookies %q", res.StatusCode, res.Header.Values("Set-Cookie"))
			}
		})
	}
	page, err := s.Svc.ListMemos(s.Ctx, s.actor("alice"), service.BoxMine, nil, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("a forged post made %d memos", len(page.Items))
	}
}

func TestSignedOutVisitorsGoToSignIn(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	res := b.get("/memos")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sign-in?next=%2Fmemos" {
		t.Errorf("status %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	// A bogus cookie is dropped and the visitor told the session ended.
	u, _ := url.Parse(s.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "not-a-token", Path: "/", Secure: true}})
	res = b.get("/memos")
	if loc := res.Header.Get("Location"); !strings.Contains(loc, "ended=1") {
		t.Errorf("redirect %q does not say the session ended", loc)
	}
}

func TestSignInRedirectsOnlyToThisSite(t *testing.T) {
	s := newSite(t)
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		b := s.browser(t)
		res := b.post("/sign-in", url.Values{"username": {"alice"}, "password": {"alice-password-1"}, "next": {next}})
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("next %q: went to %q", next, loc)
		}
	}
	b := s.browser(t)
	res := b.post("/sign-in", url.Values{"username": {"alice"}, "password": {"alice-password-1"}, "next": {"/memos/new"}})
	if loc := res.Header.Get("Location"); loc != "/memos/new" {
		t.Errorf("went to %q", loc)
	}
}

func TestWrongPassword(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	res := b.post("/sign-in", url.Values{"username": {"alice"}, "password": {"wrong-password-1"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "The username or password is wrong.") {
		t.Errorf("status %d: %s", res.StatusCode, res.body)
	}
	unknown := b.post("/sign-in", url.Values{"username": {"nobody"}, "password": {"wrong-password-1"}})
	if unknown.StatusCode != res.StatusCode || strings.ReplaceAll(unknown.body, "nobody", "alice") != res.body {
		t.Error("an unknown user gets a different answer from a wrong password")
	}
}

func TestSignOutRevokesTheSession(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	u, _ := url.Parse(s.srv.URL)
	var token string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			token = c.Value
		}
	}
	if res := b.post("/sign-out", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	if _, err := s.Svc.Authenticate(s.Ctx, token); err == nil {
		t.Fatal("the token still works after signing out")
	}
	replay := s.browser(t)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/", Secure: true}})
	if res := replay.get("/memos"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a replayed cookie got %d", res.StatusCode)
	}
}

// TestNoAccessIsNotFound checks that a memo one may not see answers exactly
// as one that does not exist, on every page about a memo.
func TestNoAccessIsNotFound(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"Secret title"}, "body": {"Secret body"}, "marking": {"UNCLASSIFIED"}}))
	missing := "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	bob := s.signedIn(t, "bob")
	for _, sub := range []string{"", "/edit", "/history", "/sign", "/submit", "/receipt", "/receipt.json", "/bundle.json", "/proof/0", "/proof/x", "/access", "/signers", "/withdraw", "/return", "/readers", "/meeting", "/reply"} {
		t.Run("GET"+sub, func(t *testing.T) {
			hidden, absent, malformed := bob.get("/memos/"+id+sub), bob.get("/memos/"+missing+sub), bob.get("/memos/x"+sub)
			for _, r := range []response{hidden, absent, malformed} {
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("status %d, want 404", r.StatusCode)
				}
			}
			if hidden.body != absent.body || absent.body != malformed.body {
				t.Error("the answers differ")
			}
			if strings.Contains(hidden.body, id) || strings.Contains(hidden.body, "Secret") {
				t.Error("the answer names the memo")
			}
		})
	}
	for _, sub := range []string{"/edit", "/sign", "/unsign", "/submit", "/withdraw", "/signers", "/acknowledge", "/return", "/readers", "/revoke", "/meeting", "/reply", "/close", "/comment"} {
		t.Run("POST"+sub, func(t *testing.T) {
			form := url.Values{"revision": {"1"}, "expected_revision": {"1"}, "title": {"x"}, "body": {"x"}, "marking": {"UNCLASSIFIED"}, "reason": {"x"}, "usernames": {"carol"}, "username": {"carol"}}
			hidden, absent := bob.post("/memos/"+id+sub, form), bob.post("/memos/"+missing+sub, form)
			if hidden.StatusCode != http.StatusNotFound || hidden.body != absent.body {
				t.Errorf("status %d and %d, bodies equal %v", hidden.StatusCode, absent.StatusCode, hidden.body == absent.body)
			}
		})
	}
	if res := bob.get("/no/such/page"); res.StatusCode != http.StatusNotFound || res.body != bob.get("/memos/"+missing).body {
		t.Error("a missing page answers differently from a hidden memo")
	}
}

func TestTitlesNeverNameAMemo(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"Zebra policy"}, "body": {"Zebra body"}, "marking": {"UNCLASSIFIED"}}))
	title := regexp.MustCompile(`<title>([^<]*)</title>`)
	for _, p := range []string{"/memos", "/memos/" + id, "/memos/" + id + "/edit", "/memos/" + id + "/sign", "/memos/" + id + "/submit", "/memos/" + id + "/history"} {
		res := alice.get(p)
		m := title.FindStringSubmatch(res.body)
		if m == nil || strings.Contains(m[1], "Zebra") {
			t.Errorf("%s: title %q", p, m)
		}
		if !strings.Contains(res.body, "Zebra") {
			t.Errorf("%s does not show the memo", p)
		}
	}
}

func TestMarkingBannerTopAndBottom(t *testing.T) {
	s := newSite(t)
	alice := s.signedIn(t, "alice")
	id := memoID(t, alice.post("/memos/new", url.Values{"action": {"save"}, "title": {"T"}, "body": {"B"}, "marking": {"SENSITIVE BUT UNCLASSIFIED"}}))
	for _, p := range []string{"/memos/" + id, "/memos/" + id + "/sign", "/memos/" + id + "/edit", "/memos"} {
		body := alice.get(p).body
		if n := strings.Count(body, `class="marking marking-`); n != 2 {
			t.Errorf("%s: %d marking banners, want 2", p, n)
		}
		if !strings.Contains(body, "SENSITIVE BUT UNCLASSIFIED</div>") {
			t.Errorf("%s: the banner does not show the marking", p)
		}
	}
	if strings.Contains(alice.get("/account").body, `class="marking`) {
		t.Error("a page without memo content shows a marking")
	}
}

func TestLanguage(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	b.lang = "de-DE,de;q=0.9,en;q=0.5"
	res := b.get("/memos")
	if !strings.Contains(res.body, `<html lang="de">`) || !strings.Contains(res.body, "Meine Eingaben") {
		t.Errorf("Accept-Language de: not German")
	}
	b.lang = "en-GB"
	if res := b.get("/memos"); !strings.Contains(res.body, `lang="en-GB"`) || !strings.Contains(res.body, "My memos") {
		t.Error("en-GB: not British English")
	}
	// The switch wins over Accept-Language.
	res = b.post("/language", url.Values{"lang": {"de"}, "next": {"/account"}})
	if res.Header.Get("Location") != "/account" {
		t.Errorf("switch went to %q", res.Header.Get("Location"))
	}
	if res := b.get("/account"); !strings.Contains(res.body, "Ihr Konto") {
		t.Error("the switch did not change the language")
	}
	// Back to English: the browser's British English still decides how
	// dates are written.
	b.post("/language", url.Values{"lang": {"en"}, "next": {"/account"}})
	if res := b.get("/account"); !strings.Contains(res.body, `lang="en-GB"`) || !strings.Contains(res.body, "Your account") {
		t.Error("switching back to English lost the British English of the browser")
	}
}

func TestDatesInLocaleAndOfficeZone(t *testing.T) {
	s := newSite(t)
	h, err := newHandler(s.Svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := servicetest.Start.UTC() // Monday 2 March 2026, 10:00 in New York, 15:00 UTC
	for _, c := range []struct{ lang, date, dateTime string }{
		{"en-US", "Monday, March 2, 2026", "March 2, 2026, 10:00 AM EST"},
		{"en-GB", "Monday 2 March 2026", "2 March 2026, 10:00 EST"},
		{"de", "Montag, 2. März 2026", "2. März 2026, 10:00 EST"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", c.lang)
		l := h.chooseLocale(r)
		if got := l.Date(at); got != c.date {
			t.Errorf("%s: Date %q, want %q", c.lang, got, c.date)
		}
		if got := l.DateTime(at); got != c.dateTime {
			t.Errorf("%s: DateTime %q, want %q", c.lang, got, c.dateTime)
		}
	}
}

func TestPlurals(t *testing.T) {
	s := newSite(t)
	h, err := newHandler(s.Svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "Due in %d working days", []any{1}, "Due in 1 working day"},
		{"en", "Due in %d working days", []any{3}, "Due in 3 working days"},
		{"de", "Due in %d working days", []any{1}, "Fällig in 1 Arbeitstag"},
		{"de", "Due in %d working days", []any{3}, "Fällig in 3 Arbeitstagen"},
		{"en", "%d authors; %d signed revision %d.", []any{1, 1, 2}, "1 author; 1 signed revision 2."},
		{"de", "%d authors; %d signed revision %d.", []any{51, 50, 2}, "51 Verfasser; Unterschriften auf Fassung 2: 50."},
		{"en", "Revision %d", []any{1200}, "Revision 1,200"},
		{"de", "Revision %d", []any{1200}, "Fassung 1.200"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", c.lang)
		if got := h.chooseLocale(r).T(c.key, c.args...); got != c.want {
			t.Errorf("%s %q %v: %q, want %q", c.lang, c.key, c.args, got, c.want)
		}
	}
}

// TestExpiredSessionKeepsTheText checks that a memo typed while the session
// timed out is shown back, not lost.
func TestExpiredSessionKeepsTheText(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	s.Clock.Advance(31 * time.Minute) // past the idle time-out
	res := b.post("/memos/new", url.Values{"action": {"save"}, "title": {"Long thought"}, "body": {"An hour of careful writing."}, "marking": {"UNCLASSIFIED"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{"nothing was saved", "Long thought", "An hour of careful writing.", `name="next" value="/memos/new"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestBesideTheAPI registers the pages on the same mux as the JSON API, as
// server.Handler does, and checks that each keeps its own paths.
func TestBesideTheAPI(t *testing.T) {
	s := newSite(t)
	mux := http.NewServeMux()
	api.Register(mux, s.Svc, api.Options{Log: slog.New(slog.DiscardHandler)})
	api.Health(mux, s.Svc)
	Register(mux, s.Svc, Options{Log: slog.New(slog.DiscardHandler)})
	for _, c := range []struct {
		path, contentType string
		status            int
	}{
		{"/api/v1/me", "application/problem+json", http.StatusUnauthorized},
		{"/api/v1/nothing", "application/problem+json", http.StatusNotFound},
		{"/healthz", "", http.StatusOK},
		{"/sign-in", "text/html; charset=utf-8", http.StatusOK},
		{"/nothing", "text/html; charset=utf-8", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.status || c.contentType != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), c.contentType) {
			t.Errorf("%s: %d %q", c.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

func TestMarkingOnEveryPrintedSheet(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	id := memoID(t, b.post("/memos/new", url.Values{"action": {"save"}, "title": {"T"}, "body": {"B"}, "marking": {"SENSITIVE BUT UNCLASSIFIED"}}))
	page := b.get("/memos/" + id).body
	if !strings.Contains(page, `<body class="marked-1">`) || !strings.Contains(page, `/static/markings.css?v=`) {
		t.Fatal("the memo page does not print its marking")
	}
	css := b.get("/static/markings.css")
	for _, want := range []string{"@page marked-1", `@top-center { content: "SENSITIVE BUT UNCLASSIFIED"`, `@bottom-center`, "body.marked-1 { page: marked-1; }"} {
		if !strings.Contains(css.body, want) {
			t.Errorf("markings.css lacks %q:\n%s", want, css.body)
		}
	}
	if got := cssString(`A"B\C` + "\n}"); got != `"A\22 B\5c C\a \7d "` {
		t.Errorf("cssString: %s", got)
	}
}

// TestSiblingSitesCannotRecordReads: another host of the same site gets the
// SameSite=Strict cookie sent with an image or a fetch it makes the browser
// send; opening a memo records a read in the ledger, so such a request is
// refused before anything is read, while a link the person follows from
// there opens the page.
func TestSiblingSitesCannotRecordReads(t *testing.T) {
	s := newSite(t)
	m := s.submitted(t, "Read only by choice")
	p1 := s.signedIn(t, "p1")
	reads := func() int {
		t.Helper()
		page, err := s.Svc.AccessLog(s.Ctx, s.actor("alice"), m.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range page.Items {
			if e.Action == "read" && e.Username == "p1" {
				n++
			}
		}
		return n
	}
	get := func(path string, header ...string) response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return p1.do(req)
	}
	for _, c := range []struct {
		name   string
		header []string
	}{
		{"an image on a sibling host", []string{"Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}},
		{"a frame on a sibling host", []string{"Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}},
		{"a fetch from another site", []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/memos/" + m.ID, "/memos/" + m.ID + "/receipt.json"} {
				if res := get(path, c.header...); res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s: status %d, CSP %q, Cache-Control %q; want 403 with the pages' headers", path, res.StatusCode, res.Header.Get("Content-Security-Policy"), res.Header.Get("Cache-Control"))
				}
			}
			if n := reads(); n != 0 {
				t.Errorf("%d reads recorded", n)
			}
		})
	}
	if res := get("/memos/"+m.ID, "Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"); res.StatusCode != http.StatusOK {
		t.Fatalf("following a link from a sibling host: status %d", res.StatusCode)
	}
	if res := get("/memos/" + m.ID); res.StatusCode != http.StatusOK {
		t.Fatalf("without fetch metadata: status %d", res.StatusCode)
	}
	if n := reads(); n != 2 {
		t.Errorf("%d reads recorded, want the 2 pages opened", n)
	}
}

// TestRefusalsCarryThePagesHeaders: the page that refuses a form from
// another site shows who is signed in, so it is not cached and keeps the
// content security policy.
func TestRefusalsCarryThePagesHeaders(t *testing.T) {
	s := newSite(t)
	b := s.signedIn(t, "alice")
	res := b.post("/memos/new", url.Values{"title": {"x"}}, "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("status %d, headers %v", res.StatusCode, res.Header)
	}
}
