package web

// What the public forms take.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignInFormRefusesALargeBody: the sign-in form has three short
// fields; a form far larger than any valid one, which anyone may send, is
// refused as too large (413) rather than read, checked and written back
// into the page.
func TestSignInFormRefusesALargeBody(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	res := b.post("/sign-in", url.Values{"username": {strings.Repeat("a", 1<<20)}, "password": {"wrong-password-1"}})
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB sign-in form: status %d with a %d-byte page, want 413", res.StatusCode, len(res.body))
	}
}
