package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLockedKeys follows a member whose password an administrator reset:
// they are told why their memos are sealed, and may start afresh.
func TestLockedKeys(t *testing.T) {
	s := newSite(t)
	m := s.seedMemo(t)
	alice := s.lockedOut(t, "alice")

	if res := alice.get("/"); res.Header.Get("Location") != "/account/keys" {
		t.Errorf("the start page sends a locked member to %q", res.Header.Get("Location"))
	}
	page := alice.get("/account/keys")
	for _, want := range []string{"Your keys are locked", "until the recovery custodians restore your keys", "you lose access to your earlier memos for good",
		`<form method="post" action="/account/keys"`, `name="understood" value="yes" required`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the keys page lacks %q", want)
		}
	}
	// Every other page says so, and points there.
	for _, p := range []string{"/account", "/memos", "/memos/" + m.ID, "/help"} {
		body := alice.get(p).body
		if !strings.Contains(body, "Your keys are locked.") || !strings.Contains(body, `<a href="/account/keys">What you can do</a>`) {
			t.Errorf("%s does not point to the keys page", p)
		}
	}
	if res := alice.get("/memos"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "This needs your keys") || strings.Contains(res.body, "Your role does not allow") {
		t.Errorf("a page that needs the keys: %d", res.StatusCode)
	}
	if strings.Contains(page.body, "Your keys are locked.</strong>") {
		t.Error("the keys page repeats the notice that points to itself")
	}

	for _, c := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"not confirmed", url.Values{"password": {resetPassword}}, "tick the box"},
		{"wrong password", url.Values{"password": {"wrong-password-1"}, "understood": {"yes"}}, "the password is wrong"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := alice.post("/account/keys", c.form)
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, c.field) {
				t.Errorf("status %d: %s", res.StatusCode, res.body)
			}
		})
	}

	res := alice.post("/account/keys", url.Values{"password": {resetPassword}, "understood": {"yes"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("start afresh: %d to %q: %s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	account := alice.get("/account")
	if account.StatusCode != http.StatusOK || !strings.Contains(account.body, "You have new keys.") {
		t.Fatalf("after starting afresh: %d", account.StatusCode)
	}
	if strings.Contains(account.body, "Your keys are locked") {
		t.Error("still locked after starting afresh")
	}
	if res := alice.get("/"); res.Header.Get("Location") != "/memos" {
		t.Errorf("the start page now sends her to %q", res.Header.Get("Location"))
	}
	if res := alice.get("/memos/" + m.ID); res.StatusCode != http.StatusNotFound {
		t.Errorf("a memo sealed for the old keys: status %d", res.StatusCode)
	}
	if body := alice.get("/account/keys").body; !strings.Contains(body, "Your keys work") || strings.Contains(body, `action="/account/keys"`) {
		t.Error("the keys page still offers to start afresh")
	}
	if res := alice.post("/account/keys", url.Values{"password": {resetPassword}, "understood": {"yes"}}); res.StatusCode != http.StatusConflict {
		t.Errorf("starting afresh twice: status %d", res.StatusCode)
	}
}

func TestAccountPointsToLockedKeys(t *testing.T) {
	s := newSite(t)
	if strings.Contains(s.signedIn(t, "alice").get("/account").body, `href="/account/keys"`) {
		t.Error("the account page of working keys points to the keys page")
	}
	if !strings.Contains(s.lockedOut(t, "bob").get("/account").body, `Locked after a password reset: ask the recovery custodians to restore them. <a href="/account/keys">`) {
		t.Error("the account page of locked keys does not point to the keys page")
	}
}
