package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// apiMaxBody is the request limit server.Handler sets for the default memo
// body limit: room for a full body after JSON escaping.
const apiMaxBody = 2*channel.DefaultMaxBody + 64<<10

// env is a deployment served over real HTTP: the service of servicetest
// (fake clock, weak test password parameters) behind the JSON API's routes
// on a ServeMux, as server.Handler mounts them.
type env struct {
	t   testing.TB
	h   *servicetest.Harness
	mux *http.ServeMux
	srv *httptest.Server
	log *lockedBuffer // everything the API logged

	mu     sync.Mutex
	tokens map[string]string // username → bearer token
}

// newEnv serves a fresh deployment over st. Its only account is "admin",
// signed in.
func newEnv(t testing.TB, st store.Store, opts ...servicetest.Options) *env {
	t.Helper()
	h := servicetest.New(t, st, opts...)
	e := &env{t: t, h: h, mux: http.NewServeMux(), log: &lockedBuffer{}, tokens: map[string]string{}}
	log := slog.New(slog.NewTextHandler(e.log, nil))
	api.Register(e.mux, h.Svc, api.Options{MaxBody: apiMaxBody, Log: log})
	api.Health(e.mux, h.Svc)
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	e.signIn("admin")
	return e
}

// bothStores runs f on a fresh SQLite store and a fresh PostgreSQL one, as
// storetest.Stores does, the two at once: they share nothing.
func bothStores(t *testing.T, f func(t *testing.T, st store.Store)) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		f(t, st)
	})
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// reply is an HTTP answer, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	return strconv.Itoa(r.status) + " " + string(bytes.TrimSpace(r.body))
}

// token returns who's bearer token ("" for nobody).
func (e *env) token(who string) string {
	if who == "" {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	tok, ok := e.tokens[who]
	if !ok {
		e.t.Fatalf("no session for %q", who)
	}
	return tok
}

// call sends a request as who ("" for no session). body is sent as JSON
// unless it is a []byte or string, which go as they are.
func (e *env) call(who, method, path string, body any) reply {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatalf("marshal %T: %v", body, err)
		}
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.raw(e.token(who), method, path, ct, raw)
}

// raw sends a request with a bearer token, a content type and body bytes
// exactly as given (nil body: none).
func (e *env) raw(token, method, path, contentType string, body []byte) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if resp.StatusCode >= 500 {
		e.t.Errorf("%s %s: %d %s\nlog:\n%s", method, path, resp.StatusCode, b, e.log.Bytes())
	}
	// Every JSON answer says its length (sent whole, not chunked) and ends
	// its document with a newline.
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && (resp.ContentLength != int64(len(b)) || !bytes.HasSuffix(b, []byte("}\n")) && !bytes.HasSuffix(b, []byte("]\n"))) {
		e.t.Errorf("%s %s: a %d-byte JSON answer sent with Content-Length %d (%q): %.80q", method, path, len(b), resp.ContentLength, resp.TransferEncoding, b)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *env) must(want int, who, method, path string, body any) reply {
	e.t.Helper()
	r := e.call(who, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s as %q: got %s, want %d", method, path, who, r, want)
	}
	return r
}

// decode parses a JSON answer into a T.
func decode[T any](t testing.TB, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r, err)
	}
	return v
}

// problemOf parses a problem document and checks its shape (RFC 9457).
func problemOf(t testing.TB, r reply) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("problem answered as %q: %s", ct, r)
	}
	p := decode[api.Problem](t, r)
	if p.Status != r.status || p.Title == "" || p.Type == "" {
		t.Errorf("malformed problem document: %s", r)
	}
	return p
}

// signIn signs username in through the API with their test password.
func (e *env) signIn(username string) {
	e.t.Helper()
	r := e.must(http.StatusCreated, "", "POST", "/api/v1/sessions",
		map[string]string{"username": username, "password": servicetest.Password(username)})
	tok := decode[struct {
		Token string `json:"token"`
	}](e.t, r).Token
	if tok == "" {
		e.t.Fatalf("sign in %q: no token in %s", username, r)
	}
	e.mu.Lock()
	e.tokens[username] = tok
	e.mu.Unlock()
}

// signInAgain renews every session, e.g. after the clock jumped past them.
func (e *env) signInAgain() {
	e.t.Helper()
	e.mu.Lock()
	var names []string
	for n := range e.tokens {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, n := range names {
		e.signIn(n)
	}
}

// user creates an account through the API (as admin); its user signs in
// with the password the administrator set, chooses their own (which makes
// their keys), and signs in with it.
func (e *env) user(username string, eligible bool, roles ...string) {
	e.t.Helper()
	e.must(http.StatusCreated, "admin", "POST", "/api/v1/users", service.NewUser{
		Username: username, DisplayName: "Display " + username, Email: username + "@example.test",
		Password: servicetest.InitialPassword(username), Roles: roles, Eligible: eligible,
	})
	e.enrol(username)
	// The custodians found the office with its first member (the CLI's
	// `dissent office found`; no route does it).
	if slices.Contains(roles, "office") {
		if me := decode[service.User](e.t, e.must(http.StatusOK, username, "GET", "/api/v1/me", nil)); me.OfficeAccess == "unfounded" {
			e.h.Found(username)
		}
	}
}

// confirm has "office" confirm each principal's keys, as the person reads
// their fingerprint from GET /api/v1/me.
func (e *env) confirm(principals ...string) {
	e.t.Helper()
	for _, p := range principals {
		me := decode[service.User](e.t, e.must(http.StatusOK, p, "GET", "/api/v1/me", nil))
		e.must(http.StatusNoContent, "office", "POST", "/api/v1/office/key-confirmations/"+p, service.KeyConfirmation{Fingerprint: me.KeysFingerprint, Principal: true})
	}
}

// distribute puts principals on the standing distribution, as an
// administrator does, and has "office" confirm each one's keys, as the
// person reads their fingerprint from GET /api/v1/me: memos reach a
// principal only then.
func (e *env) distribute(principals ...string) {
	e.t.Helper()
	d := decode[service.Distribution](e.t, e.must(http.StatusOK, "admin", "PUT", "/api/v1/admin/distribution", service.Distribution{Usernames: principals}))
	e.confirm(d.AwaitingConfirmation...)
}

// enrol has username, whose account an administrator made with
// servicetest.InitialPassword, sign in with it, choose their own password,
// and sign in with that.
func (e *env) enrol(username string) {
	e.t.Helper()
	r := e.must(http.StatusCreated, "", "POST", "/api/v1/sessions",
		map[string]string{"username": username, "password": servicetest.InitialPassword(username)})
	e.mu.Lock()
	e.tokens[username] = decode[struct {
		Token string `json:"token"`
	}](e.t, r).Token
	e.mu.Unlock()
	r = e.must(http.StatusOK, username, "PUT", "/api/v1/me/password",
		map[string]string{"current_password": servicetest.InitialPassword(username), "new_password": servicetest.Password(username)})
	device := decode[struct {
		Device string `json:"device"`
	}](e.t, r).Device
	// The change voided the device token of the sign-in before it and
	// gave one in its place, which a sign-in takes as the same device's.
	r = e.must(http.StatusCreated, "", "POST", "/api/v1/sessions",
		map[string]string{"username": username, "password": servicetest.Password(username), "device": device})
	if kept := decode[struct {
		Device string `json:"device"`
	}](e.t, r).Device; device == "" || kept != device {
		e.t.Fatalf("%s's device token after choosing a password: %q, the sign-in keeps %q", username, device, kept)
	}
	e.signIn(username)
}

// member creates an eligible member.
func (e *env) member(username string) { e.t.Helper(); e.user(username, true, "member") }

// memoPath is the path of a memo, or of one of its sub-resources.
func memoPath(id string, sub ...string) string {
	p := "/api/v1/memos/" + id
	for _, s := range sub {
		if s != "" {
			p += "/" + s
		}
	}
	return p
}

// create starts a draft as who.
func (e *env) create(who, title, body string, codrafters ...string) service.Memo {
	e.t.Helper()
	if codrafters == nil {
		codrafters = []string{}
	}
	r := e.must(http.StatusCreated, who, "POST", "/api/v1/memos",
		service.MemoInput{Title: title, Body: body, Marking: "UNCLASSIFIED", Codrafters: codrafters})
	return decode[service.Memo](e.t, r)
}

// read reads a memo as who, which must succeed.
func (e *env) read(who, id string) service.Memo {
	e.t.Helper()
	return decode[service.Memo](e.t, e.must(http.StatusOK, who, "GET", memoPath(id), nil))
}

// sign signs revision rev as who.
func (e *env) sign(who, id string, rev int) {
	e.t.Helper()
	e.must(http.StatusCreated, who, "POST", memoPath(id, "signatures"), map[string]int{"revision": rev})
}

// submit submits revision rev as who and returns the receipt.
func (e *env) submit(who, id string, rev int) service.Receipt {
	e.t.Helper()
	return decode[service.Receipt](e.t, e.must(http.StatusCreated, who, "POST", memoPath(id, "submit"), map[string]int{"revision": rev}))
}

// checkpoint fetches and verifies the latest checkpoint.
func (e *env) checkpoint() ledger.Checkpoint {
	e.t.Helper()
	r := e.must(http.StatusOK, "admin", "GET", "/api/v1/ledger/checkpoint", nil)
	cp, err := ledger.OpenCheckpoint(r.body, e.h.LedgerVKey)
	if err != nil {
		e.t.Fatalf("checkpoint %q: %v", r.body, err)
	}
	return cp
}

// missingID is a well-formed memo id that names no memo.
func missingID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// snapshot is what bad input must leave as it was: read straight from the
// store, so that taking it is not itself an audited read.
type snapshot struct {
	ledgerSize   int64
	memos        map[string]memoRow
	users        map[string]int64 // username → version
	distribution string
}

func (e *env) snapshot(memoIDs ...string) snapshot {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.h.Store.Begin(ctx, false)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	s := snapshot{memos: map[string]memoRow{}, users: map[string]int64{}}
	ls := tx.LedgerStorage("", "")
	if sz, ok := ls.(ledger.Sizer); ok {
		s.ledgerSize, err = sz.Size(ctx)
	} else {
		s.ledgerSize, err = ls.LockedSize(ctx)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range memoIDs {
		m, err := tx.MemoByID(ctx, id)
		if err != nil {
			e.t.Fatalf("memo %s: %v", id, err)
		}
		s.memos[id] = memoRow{state: m.State, revision: m.Revision, version: m.Version, updatedAt: m.UpdatedAt}
	}
	us, err := tx.ListUsers(ctx, "", "", 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range us {
		s.users[u.Username] = u.Version
	}
	d, err := tx.Setting(ctx, "distribution")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	s.distribution = string(d)
	return s
}

// memoRow is the plaintext of a memo row that any change moves: every
// write bumps version.
type memoRow struct {
	state              string
	revision           int
	version, updatedAt int64
}

// unchanged fails unless the deployment is as snapshot s saw it.
func (e *env) unchanged(what string, s snapshot) {
	e.t.Helper()
	ids := make([]string, 0, len(s.memos))
	for id := range s.memos {
		ids = append(ids, id)
	}
	now := e.snapshot(ids...)
	if now.ledgerSize != s.ledgerSize {
		e.t.Errorf("%s: the ledger grew from %d to %d leaves", what, s.ledgerSize, now.ledgerSize)
	}
	for id, m := range s.memos {
		if n := now.memos[id]; n != m {
			e.t.Errorf("%s: memo %s changed: state %s→%s, revision %d→%d, version %d→%d",
				what, id, m.state, n.state, m.revision, n.revision, m.version, n.version)
		}
	}
	if len(now.users) != len(s.users) {
		e.t.Errorf("%s: %d accounts, was %d", what, len(now.users), len(s.users))
	}
	for u, v := range s.users {
		if now.users[u] != v {
			e.t.Errorf("%s: account %q changed", what, u)
		}
	}
	if now.distribution != s.distribution {
		e.t.Errorf("%s: the standing distribution changed", what)
	}
}
