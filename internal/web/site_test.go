package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// site is a deployment over a real SQLite store with the pages served over
// TLS, so that the browser's and the client's cookie rules are the real ones.
type site struct {
	*servicetest.Deployment
	srv *httptest.Server
}

// newSite sets up the cast of servicetest.NewDeployment (office, p1, p2 on
// the standing distribution) plus members alice, bob and carol and an
// auditor.
func newSite(t testing.TB, opts ...servicetest.Options) *site {
	t.Helper()
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), opts...)
	for _, m := range []string{"alice", "bob", "carol"} {
		d.Member(m)
	}
	d.Create("audrey", false, "auditor")
	mux := http.NewServeMux()
	Register(mux, d.Svc, Options{Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return &site{Deployment: d, srv: srv}
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	t    testing.TB
	s    *site
	c    *http.Client
	lang string
}

func (s *site) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: s.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, s: s, c: c}
}

// signedIn returns a browser signed in as username.
func (s *site) signedIn(t testing.TB, username string) *browser {
	t.Helper()
	return s.signedInWith(t, username, servicetest.Password(username))
}

func (s *site) signedInWith(t testing.TB, username, password string) *browser {
	t.Helper()
	b := s.browser(t)
	res := b.post("/sign-in", url.Values{"username": {username}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: status %d: %s", username, res.StatusCode, res.body)
	}
	return b
}

// resetPassword is the password an administrator's reset gives in tests.
const resetPassword = "temporary-password-1"

// lockedOut has an administrator reset username's password, which locks
// their keys, and returns a browser signed in with the new one.
func (s *site) lockedOut(t testing.TB, username string) *browser {
	t.Helper()
	if err := s.Svc.ResetPassword(s.Ctx, s.Admin, username, resetPassword); err != nil {
		t.Fatal(err)
	}
	return s.signedInWith(t, username, resetPassword)
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{res, string(body)}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form as the site's own pages do (same origin).
func (b *browser) post(path string, form url.Values, header ...string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// memoID returns the memo id a redirect went to.
func memoID(t testing.TB, res response) string {
	t.Helper()
	m := regexp.MustCompile(`^/memos/([a-z2-7]{26})`).FindStringSubmatch(res.Header.Get("Location"))
	if m == nil {
		t.Fatalf("no memo in redirect %q (status %d): %s", res.Header.Get("Location"), res.StatusCode, res.body)
	}
	return m[1]
}

// actor signs username in at the service, for set-up steps.
func (s *site) actor(username string) *service.Actor { return s.SignIn(username) }
