package api_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// readersEnv: an office, a principal on the standing distribution, and
// members.
func readersEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, storetest.OpenSQLite(t))
	e.user("office", false, "office")
	e.user("p1", false, "principal")
	e.distribute("p1")
	for _, m := range []string{"drafter", "declined", "other"} {
		e.member(m)
	}
	return e
}

// TestDroppedSignerNamedToAuthorsOnly: THREAT-MODEL says a colleague who
// was asked to co-sign and did not is named to the memo's authors only; the
// office and the distribution see how many were dropped, not who. The
// memo's events (GET /memos/{id}) and its access log named them to the
// office and the principals, by their own sign, unsign and read steps.
func TestDroppedSignerNamedToAuthorsOnly(t *testing.T) {
	e := readersEnv(t)
	m := e.create("drafter", "Dropped", "Body.")
	e.must(http.StatusOK, "drafter", "POST", memoPath(m.ID, "signers"), map[string][]string{"usernames": {"declined"}})
	e.read("declined", m.ID)
	e.sign("declined", m.ID, 1)
	e.must(http.StatusOK, "declined", "DELETE", memoPath(m.ID, "signatures", "me"), nil)
	e.sign("drafter", m.ID, 1)
	rc := e.submit("drafter", m.ID, 1)
	if rc.Dropped != 1 {
		t.Fatalf("receipt drops %d, want 1", rc.Dropped)
	}
	for _, who := range []string{"office", "p1"} {
		got := e.read(who, m.ID)
		if len(got.Dropped) != 0 {
			t.Errorf("%s sees dropped_signers %v", who, got.Dropped)
		}
		for _, ev := range got.Events {
			if ev.Actor == "declined" {
				t.Errorf("%s sees the dropped signer by name in the memo's events: %+v", who, ev)
			}
		}
	}
	r := e.must(http.StatusOK, "office", "GET", memoPath(m.ID, "access"), nil)
	if bytes.Contains(r.body, []byte(`"declined"`)) {
		t.Errorf("the office's access log names the dropped signer: %s", r)
	}
}

// TestOfficeCursorNamesNoHiddenMemo: the office box passes by memos the
// office cannot open (a draft withdrawn before it was ever submitted), and
// a page's next_cursor, base64 JSON of the last row's updated_at and id,
// named such a memo when the page ended on one: the office learned the id,
// and when it was withdrawn, of a memo that for it does not exist. The
// office box now lists submitted memos only.
func TestOfficeCursorNamesNoHiddenMemo(t *testing.T) {
	e := readersEnv(t)
	v := e.create("drafter", "Visible", "Body.")
	e.sign("drafter", v.ID, 1)
	e.submit("drafter", v.ID, 1)
	e.must(http.StatusOK, "drafter", "POST", memoPath(v.ID, "withdraw"), map[string]string{"reason": "Changed my mind."})
	e.h.Clock.Advance(time.Minute)
	e.signInAgain()
	h := e.create("other", "Hidden draft", "Body.")
	e.must(http.StatusOK, "other", "POST", memoPath(h.ID, "withdraw"), map[string]string{"reason": "Never mind."})
	e.must(http.StatusNotFound, "office", "GET", memoPath(h.ID), nil)

	p := decode[service.MemoPage](t, e.must(http.StatusOK, "office", "GET", "/api/v1/memos?box=office&state=withdrawn&limit=1", nil))
	for _, it := range p.Items {
		if it.ID == h.ID {
			t.Fatalf("the office lists the hidden draft")
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(p.NextCursor)
	if strings.Contains(string(raw), h.ID) {
		t.Errorf("the office's page shows %d items, but its next_cursor %q decodes to %s: the id of a memo the office gets 404 for", len(p.Items), p.NextCursor, raw)
	}
}

// TestPasswordGuessingIsLimited: failed sign-ins are limited per account
// (security.failed_sign_ins_per_hour, 429), and so are wrong current
// passwords given to PUT /api/v1/me/password (and POST /api/v1/me/keys):
// whoever holds a session token (a stolen one, a shared machine) must not
// guess the account's password without end, and keep the account (and its
// keys) after the token ends.
func TestPasswordGuessingIsLimited(t *testing.T) {
	e := readersEnv(t)
	cfg := e.h.Svc.Config()
	cfg.SignInLimit = 3
	svc := e.h.WithConfig(cfg)
	mux := http.NewServeMux()
	api.Register(mux, svc, api.Options{MaxBody: apiMaxBody})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	send := func(token, method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Control: sign-in guesses hit the limit.
	last := 0
	for i := range 5 {
		last = send("", "POST", "/api/v1/sessions", fmt.Sprintf(`{"username":"drafter","password":"wrong guess %d"}`, i))
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("the 5th wrong sign-in answered %d, want 429", last)
	}
	// The same guesses through a session are never limited.
	tok := e.token("drafter")
	statuses := map[int]int{}
	for i := range 30 {
		statuses[send(tok, "PUT", "/api/v1/me/password", fmt.Sprintf(`{"current_password":"wrong guess %d","new_password":"a new password 123"}`, i))]++
	}
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("30 wrong current_password guesses while sign-ins are locked out: statuses %v, never 429", statuses)
	}
	if got := send(tok, "PUT", "/api/v1/me/password", `{"current_password":"`+servicetest.Password("drafter")+`","new_password":"a new password 123"}`); got != http.StatusOK {
		t.Logf("the right guess answered %d", got)
	}
}

// TestOtherReadersLooksNotInHistory: THREAT-MODEL says every read is an
// event the authors see and "other readers do not: ... a memo's history
// leaves the reads out (it shows a reader only their own)". An export (the
// full text, as a file), a look at the revision history, an inclusion
// proof or at the access log are looks too: a reader sees only their own.
func TestOtherReadersLooksNotInHistory(t *testing.T) {
	e := readersEnv(t)
	e.user("p2", false, "principal")
	e.distribute("p1", "p2")
	m := e.create("drafter", "Accesses", "Body.")
	e.sign("drafter", m.ID, 1)
	e.submit("drafter", m.ID, 1)
	e.must(http.StatusOK, "p2", "GET", memoPath(m.ID, "export"), nil)
	got := e.read("p1", m.ID)
	for _, ev := range got.Events {
		if ev.Actor == "p2" {
			t.Errorf("p1 sees another reader's access to the memo in its history: %+v", ev)
		}
	}
}
