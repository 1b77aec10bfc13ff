package web

import (
	"net/url"
	"strings"
	"testing"
)

// TestPagesDemandHTTPS: the cookies are Secure and __Host-, but nothing
// told a browser to use only HTTPS for the site, so someone on the office
// network could answer a plain-http visit (a typed address, an http://
// link) with a look-alike sign-in page and collect the password that
// opens the person's keys (review helper-40). Every page now carries
// Strict-Transport-Security.
func TestPagesDemandHTTPS(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	for _, res := range []response{
		b.get("/sign-in"),
		b.post("/sign-in", url.Values{"username": {"alice"}, "password": {"alice-password-1"}}),
	} {
		hsts := res.Header.Get("Strict-Transport-Security")
		if !strings.Contains(hsts, "max-age=") || strings.Contains(hsts, "max-age=0") {
			t.Errorf("%s %s: status %d, Strict-Transport-Security %q", res.Request.Method, res.Request.URL.Path, res.StatusCode, hsts)
		}
	}
}
